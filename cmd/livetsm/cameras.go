package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/livetsm/livetsm/cluster"
)

const camerasUsage = `Camera registry on the bus (a JetStream key-value bucket):
  livetsm cameras [--nats URL] add ID SOURCE    register a camera
  livetsm cameras [--nats URL] rm ID            unregister it (its worker stops it)
  livetsm cameras [--nats URL] list [--json]    cameras and the worker running each

ID: 1 to 64 letters, digits, '-' or '_'; predictions go to livetsm.predictions.ID.
SOURCE: an rtsp:// or rtsps:// URL, a video file (played in a loop, at its own frame
rate, by whichever worker runs it: the path must exist on the workers' machines), or
synthetic (synthetic hand gestures, for tests).

Flags:
`

// camerasTimeout bounds each registry operation.
const camerasTimeout = 10 * time.Second

// newCamerasFlags returns a flag set of the cameras command and its
// subcommands: each takes --nats, so that it may come before or after the
// subcommand.
func newCamerasFlags(name string) (*flag.FlagSet, *camerasConfig) {
	c := &camerasConfig{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.url, "nats", cluster.DefaultURL, "the bus: NATS `URL`s, comma-separated (nats://[TOKEN@]HOST:PORT)")
	fs.IntVar(&c.replicas, "replicas", 1, "copies a NATS cluster keeps of the registry when this command creates it (3 survives the loss of a server)")
	if name == "livetsm cameras list" {
		fs.BoolVar(&c.asJSON, "json", false, `print one JSON array of {"id","source","worker","since"}`)
	}
	return fs, c
}

// camerasConfig holds the cameras command's flags.
type camerasConfig struct {
	url      string
	replicas int
	asJSON   bool
}

func printCamerasHelp(w io.Writer) {
	fs, _ := newCamerasFlags("livetsm cameras")
	printHelp(w, camerasUsage, fs)
}

// camerasCmd adds, removes and lists cameras.
func camerasCmd(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs, top := newCamerasFlags("livetsm cameras")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCamerasHelp(stdout)
		}
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("cameras: give add ID SOURCE, rm ID or list (see livetsm cameras --help)")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	sfs, c := newCamerasFlags("livetsm cameras " + sub)
	sfs.SetOutput(io.Discard)
	c.url, c.replicas = top.url, top.replicas // the subcommand's own flags win
	if err := sfs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCamerasHelp(stdout)
		}
		return err
	}
	pos := sfs.Args()
	var want int
	switch sub {
	case "add":
		want = 2
	case "rm", "remove":
		want = 1
	case "list", "ls":
		want = 0
	default:
		return fmt.Errorf("cameras: unknown subcommand %q: want add, rm or list", sub)
	}
	if len(pos) != want {
		return fmt.Errorf("cameras %s: want %d argument(s), got %d (livetsm cameras add ID SOURCE | rm ID | list)", sub, want, len(pos))
	}
	// Check what can be checked before reaching for the bus.
	var cam cluster.Camera
	switch sub {
	case "add":
		var err error
		if cam, err = newCamera(pos[0], pos[1], log); err != nil {
			return err
		}
	case "rm", "remove":
		if err := cluster.ValidID(pos[0]); err != nil {
			return fmt.Errorf("camera: %w", err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, camerasTimeout+cluster.DefaultConnectTimeout)
	defer cancel()
	if c.replicas < 1 || c.replicas > 5 {
		return fmt.Errorf("--replicas %d out of range [1, 5]", c.replicas)
	}
	nc, err := cluster.Connect(ctx, c.url, cluster.ConnectOptions{Name: "livetsm cameras", Log: log})
	if err != nil {
		return err
	}
	defer nc.Close()
	reg, err := cluster.OpenRegistry(ctx, nc, cluster.RegistryOptions{Replicas: c.replicas})
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if err := reg.Add(ctx, cam); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "added %s: %s\n", cam.ID, cam.Source)
		return err
	case "rm", "remove":
		if err := reg.Remove(ctx, pos[0]); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "removed %s\n", pos[0])
		return err
	}
	st, err := reg.Status(ctx)
	if err != nil {
		return err
	}
	if c.asJSON {
		if st == nil {
			st = []cluster.CameraStatus{}
		}
		return json.NewEncoder(stdout).Encode(st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOURCE\tWORKER\tSINCE")
	for _, c := range st {
		worker, since := c.Worker, ""
		if worker == "" {
			worker = "-"
		}
		if c.Since != nil {
			since = c.Since.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Source, worker, since)
	}
	return tw.Flush()
}

// newCamera checks a camera given on the command line; a relative file
// path becomes absolute (workers started elsewhere have other working
// directories).
func newCamera(id, source string, log *slog.Logger) (cluster.Camera, error) {
	cam := cluster.Camera{ID: id, Source: source}
	if err := cam.Check(); err != nil {
		return cam, err
	}
	kind, loc, _ := cluster.ParseSource(source)
	if kind == cluster.KindFile {
		abs, err := filepath.Abs(loc)
		if err != nil {
			return cam, fmt.Errorf("camera %s: %w", id, err)
		}
		cam.Source = abs
		if _, err := os.Stat(abs); err != nil {
			log.Warn("the file is not on this machine; the workers must find it at this path", "camera", id, "path", abs)
		}
	}
	return cam, nil
}
