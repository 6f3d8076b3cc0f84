// Command livetsm runs online TSM video recognition.
//
// Usage:
//
//	livetsm bench [--weights PATH] [--size 224] [--frames 60] [--threads N] [--json]
//	livetsm classify VIDEO… --weights CKPT [--labels LABELS] [--segments 8] [--clips 1] [--crops center|three|ten] [--top 5] [--json]
//	livetsm synth --y4m PATH [--class NAME] [--frames N] [--live-seconds S] | --stream [--size S] [--frames T] [--seed N]
//	livetsm --rtsp URL | --camera N | --video PATH | --synthetic [--json] [--weights PATH] ...
//	livetsm [serve] [--addr 127.0.0.1:8080] [--token T] [--stun URL] ...   the web page
//	livetsm nats [--addr 127.0.0.1:4222] [--store DIR]                     an embedded NATS bus
//	livetsm cameras [--nats URL] add ID SOURCE | rm ID | list [--json]     the camera registry
//	livetsm worker --nats URL --name NAME --max-streams N ...              run cameras from the bus
//
// Results go to stdout; logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/livetsm/livetsm/onlinetsm"
)

const usage = `livetsm — online TSM video recognition

Usage:
  livetsm bench [flags]    time one stream over random frames (livetsm bench -h)
  livetsm synth [flags]    synthetic gestures: .y4m clips, training clip stream (livetsm synth -h)
  livetsm eval --synthetic [--clips 500] [--seed S] [--rest 1]   accuracy and confusion matrix on held-out
                           clips, at each clip's end (also split by hand size and by motion duration)
                           and after 1 s more of the stream at rest
  livetsm eval --cross [--clips 45] [--vp8 9] [--seed S]   the cross evaluation: another renderer over
                           photographs, H.264 through the terminal's pipeline and VP8 through the page
  livetsm classify VIDEO… --weights CKPT [flags]       offline TSM (mmaction2 checkpoints) on recorded videos
  livetsm nats [--addr 127.0.0.1:4222] [--store DIR]   an embedded NATS server with JetStream (the bus)
  livetsm cameras [--nats URL] add ID SOURCE | rm ID | list [--json]
                           the camera registry on the bus (livetsm cameras -h)
  livetsm worker --nats URL --name NAME --max-streams N [flags]
                           run cameras from the registry, publish predictions (livetsm worker -h)
  livetsm --rtsp URL | --camera N | --video PATH | --synthetic [flags]
                           live recognition (livetsm --help lists the flags)
  livetsm [serve] [flags]  no source flag: the web page at http://127.0.0.1:8080 —
                           camera over WebRTC, predictions over a websocket

Results go to stdout, logs to stderr.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if k := os.Getenv("LIVETSM_KERNELS"); k != "" { // portable, avx2, avx512 or auto
		if _, err := onlinetsm.UseKernels(k); err != nil {
			fmt.Fprintln(os.Stderr, "livetsm: LIVETSM_KERNELS:", err)
			os.Exit(1)
		}
	}
	if err := run(ctx, os.Args[1:], os.Stdout, logger); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "livetsm:", err)
		os.Exit(1)
	}
}

// run dispatches a command line; it is main without the process around it.
func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return serveCmd(ctx, nil, stdout, log)
	}
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stdout, log)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, log)
	case "synth":
		return synthCmd(ctx, args[1:], stdout, log)
	case "eval":
		return evalCmd(ctx, args[1:], stdout, log)
	case "nats":
		return natsCmd(ctx, args[1:], stdout, log)
	case "cameras":
		return camerasCmd(ctx, args[1:], stdout, log)
	case "worker":
		return workerCmd(ctx, args[1:], stdout, log)
	case "classify":
		return classifyCmd(ctx, args[1:], stdout, log)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout)
		printLiveHelp(stdout)
		fmt.Fprintln(stdout)
		printServeHelp(stdout)
		return nil
	default:
		if strings.HasPrefix(args[0], "-") {
			if !hasSourceFlag(args) {
				return serveCmd(ctx, args, stdout, log)
			}
			return liveCmd(ctx, args, stdout, log)
		}
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// printHelp writes a command's usage text and then its flags to w.
func printHelp(w io.Writer, usage string, fs *flag.FlagSet) {
	fs.SetOutput(w)
	fmt.Fprint(w, usage)
	fs.PrintDefaults()
}
