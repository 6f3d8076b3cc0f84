package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/livetsm/livetsm/cluster"
	"github.com/livetsm/livetsm/stream"
)

// The livetsm binary, built once for the tests that run it as processes.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// livetsmBinary builds ./cmd/livetsm once per test run.
func livetsmBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "livetsm-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "livetsm")
		start := time.Now()
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		t.Logf("built livetsm in %v", time.Since(start).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a livetsm process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(livetsmBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, tail(p.stderr.String(), 40))
		}
	})
	return p
}

// wait waits up to d for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s still running after %v", p.name, d)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runLivetsm runs one short livetsm command and returns its exit code,
// stdout and stderr.
func runLivetsm(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	p := startProc(t, "livetsm "+strings.Join(args, " "), args...)
	code := p.wait(t, 20*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// busEvent is a prediction seen by the raw subscriber.
type busEvent struct {
	at     time.Time
	cam    string
	worker string
}

// rawSubscriber speaks the NATS client protocol itself, as any plain
// subscriber could: CONNECT, SUB livetsm.predictions.*, PONG to PING.
type rawSubscriber struct {
	conn   net.Conn
	mu     sync.Mutex
	events []busEvent
	bad    []string
	done   chan struct{}
}

func subscribeRaw(t *testing.T, url string) *rawSubscriber {
	t.Helper()
	host := strings.TrimPrefix(url, "nats://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("server greeting %q, %v", info, err)
	}
	if _, err := io.WriteString(conn, "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"raw\"}\r\nSUB livetsm.predictions.* 1\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	s := &rawSubscriber{conn: conn, done: make(chan struct{})}
	go s.read(r)
	t.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

func (s *rawSubscriber) read(r *bufio.Reader) {
	defer close(s.done)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "PING":
			io.WriteString(s.conn, "PONG\r\n")
		case strings.HasPrefix(line, "MSG "):
			// MSG <subject> <sid> [reply-to] <#bytes>
			f := strings.Fields(line)
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			payload := make([]byte, n+2)
			if _, err := io.ReadFull(r, payload); err != nil {
				return
			}
			var ev struct {
				Stream string `json:"stream"`
				Worker string `json:"worker"`
				Label  string `json:"label"`
				Top5   []any  `json:"top5"`
			}
			s.mu.Lock()
			if json.Unmarshal(payload[:n], &ev) != nil || ev.Label == "" || len(ev.Top5) == 0 || f[1] != cluster.Subject(ev.Stream) {
				s.bad = append(s.bad, f[1]+" "+string(payload[:n]))
			} else {
				s.events = append(s.events, busEvent{time.Now(), ev.Stream, ev.Worker})
			}
			s.mu.Unlock()
		}
	}
}

// owners maps each camera to the set of workers that published it in
// [from, to).
func (s *rawSubscriber) owners(from, to time.Time) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]map[string]bool{}
	for _, e := range s.events {
		if e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		if set[e.cam] == nil {
			set[e.cam] = map[string]bool{}
		}
		set[e.cam][e.worker] = true
	}
	out := map[string][]string{}
	for cam, ws := range set {
		for w := range ws {
			out[cam] = append(out[cam], w)
		}
		slices.Sort(out[cam])
	}
	return out
}

// sameSecond lists the cameras published by two workers within one
// second (of the wall clock) before to.
func (s *rawSubscriber) sameSecond(to time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	type key struct {
		cam string
		sec int64
	}
	by := map[key]map[string]bool{}
	var out []string
	for _, e := range s.events {
		if !e.at.Before(to) {
			continue
		}
		k := key{e.cam, e.at.Unix()}
		if by[k] == nil {
			by[k] = map[string]bool{}
		}
		by[k][e.worker] = true
		if len(by[k]) == 2 {
			out = append(out, fmt.Sprintf("%s at %s", e.cam, e.at.Format(time.TimeOnly)))
		}
	}
	return out
}

// firstAfter returns when cam was first published by a worker other than
// dead at or after t, or the zero time.
func (s *rawSubscriber) firstAfter(cam, dead string, t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.cam == cam && e.worker != dead && !e.at.Before(t) {
			return e.at
		}
	}
	return time.Time{}
}

// TestClusterWorkers is the bar, with real processes: an embedded
// bus (livetsm nats), six synthetic cameras (livetsm cameras add), three
// workers with --max-streams 3. Every camera publishes within 20 s, each
// from exactly one worker; a worker killed with SIGKILL has its cameras
// published again by the others within 15 s, never by two workers in the
// same second; SIGTERM ends the rest cleanly. A plain NATS subscriber
// speaking the raw protocol sees it all.
func TestClusterWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for about 30 s")
	}
	bus := startProc(t, "nats", "nats", "--addr", "127.0.0.1:0", "--store", t.TempDir())
	var url string
	waitUntil(t, 15*time.Second, "livetsm nats prints its URL", func() bool {
		url = strings.TrimSpace(bus.stdout.String())
		return strings.HasPrefix(url, "nats://")
	})

	const cams = 6
	for i := 1; i <= cams; i++ {
		if code, _, stderr := runLivetsm(t, "cameras", "--nats", url, "add", fmt.Sprintf("cam%d", i), "synthetic"); code != 0 {
			t.Fatalf("cameras add: exit %d\n%s", code, stderr)
		}
	}
	// A duplicate id is refused.
	if code, _, stderr := runLivetsm(t, "cameras", "--nats", url, "add", "cam1", "synthetic"); code == 0 || !strings.Contains(stderr, `camera "cam1": camera already registered`) {
		t.Errorf("duplicate camera: exit %d, stderr %q", code, stderr)
	}

	sub := subscribeRaw(t, url)
	metricsAddr := freeAddr(t)
	workers := map[string]*proc{}
	start := time.Now()
	for _, name := range []string{"w1", "w2", "w3"} {
		args := []string{"worker", "--nats", url, "--name", name, "--max-streams", "3",
			"--size", "64", "--threads", "1", "--fps", "5",
			"--synthetic-width", "96", "--synthetic-height", "72", "--synthetic-fps", "10"}
		if name == "w2" {
			args = append(args, "--addr", metricsAddr)
		}
		workers[name] = startProc(t, name, args...)
	}

	// Within 20 s every camera publishes, each from exactly one worker
	// (judged over a 2 s window), two cameras per worker.
	var even time.Time
	waitUntil(t, 20*time.Second, "every camera published by exactly one worker, two per worker", func() bool {
		now := time.Now()
		o := sub.owners(now.Add(-2*time.Second), now)
		if len(o) != cams {
			return false
		}
		per := map[string]int{}
		for _, ws := range o {
			if len(ws) != 1 {
				return false
			}
			per[ws[0]]++
		}
		if per["w1"] != 2 || per["w2"] != 2 || per["w3"] != 2 {
			return false
		}
		even = now
		return true
	})
	t.Logf("every camera published, evenly, %v after the workers started", even.Sub(start).Round(time.Millisecond))
	if m := scrape(t, metricsAddr); !strings.Contains(m, "livetsm_worker_cameras 2\n") || !strings.Contains(m, "livetsm_publish_errors_total 0\n") {
		t.Errorf("w2's /metrics:\n%s", grepLines(m, "livetsm_"))
	}
	st := listCameras(t, url)
	for _, c := range st {
		if c.Worker == "" || c.Since == nil {
			t.Errorf("cameras list: %+v has no worker", c)
		}
	}

	// SIGKILL w1: the others take its cameras once its leases expire.
	var mine []string
	for cam, ws := range sub.owners(even.Add(-2*time.Second), even) {
		if ws[0] == "w1" {
			mine = append(mine, cam)
		}
	}
	killed := time.Now()
	if err := workers["w1"].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	workers["w1"].wait(t, 5*time.Second)
	var takeover time.Duration
	waitUntil(t, 15*time.Second, "w1's cameras published again by the others", func() bool {
		takeover = 0
		for _, cam := range mine {
			at := sub.firstAfter(cam, "w1", killed)
			if at.IsZero() {
				return false
			}
			takeover = max(takeover, at.Sub(killed))
		}
		return true
	})
	t.Logf("SIGKILL of w1 (cameras %v): published again by the others after %v (lease TTL %v)", mine, takeover.Round(time.Millisecond), cluster.DefaultLeaseTTL)
	time.Sleep(2 * time.Second)
	now := time.Now()
	o := sub.owners(now.Add(-2*time.Second), now)
	if len(o) != cams {
		t.Errorf("after the takeover, %d cameras publish: %v", len(o), o)
	}
	for cam, ws := range o {
		if len(ws) != 1 || ws[0] == "w1" {
			t.Errorf("after the takeover, camera %s published by %v", cam, ws)
		}
	}
	if dup := sub.sameSecond(now); len(dup) > 0 {
		t.Errorf("published by two workers in the same second: %v", dup)
	}

	// SIGTERM ends the rest cleanly, releasing their cameras at once.
	for _, name := range []string{"w2", "w3"} {
		workers[name].cmd.Process.Signal(syscall.SIGTERM)
	}
	termed := time.Now()
	for _, name := range []string{"w2", "w3"} {
		if code := workers[name].wait(t, 10*time.Second); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", name, code)
		}
		logs := workers[name].stderr.String()
		for _, want := range []string{"worker stopped; cameras released", "released=3", "goroutines_left=0"} {
			if !strings.Contains(logs, want) {
				t.Errorf("%s's log lacks %q:\n%s", name, want, tail(logs, 15))
			}
		}
	}
	t.Logf("w2 and w3 exited %v after SIGTERM", time.Since(termed).Round(time.Millisecond))
	for _, c := range listCameras(t, url) {
		if c.Worker != "" {
			t.Errorf("after SIGTERM, camera %s still held by %s", c.ID, c.Worker)
		}
	}
	sub.mu.Lock()
	if len(sub.bad) > 0 {
		t.Errorf("bad messages: %q", sub.bad[:min(3, len(sub.bad))])
	}
	t.Logf("%d predictions seen on the bus", len(sub.events))
	sub.mu.Unlock()
	bus.cmd.Process.Signal(syscall.SIGTERM)
	if code := bus.wait(t, 10*time.Second); code != 0 {
		t.Errorf("livetsm nats: exit %d after SIGTERM", code)
	}
}

// listCameras runs livetsm cameras list --json.
func listCameras(t *testing.T, url string) []cluster.CameraStatus {
	t.Helper()
	code, stdout, stderr := runLivetsm(t, "cameras", "--nats", url, "list", "--json")
	if code != 0 {
		t.Fatalf("cameras list: exit %d\n%s", code, stderr)
	}
	var st []cluster.CameraStatus
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("cameras list --json: %v\n%s", err, stdout)
	}
	return st
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// startBus starts an embedded bus in this process.
func startBus(t *testing.T) *cluster.Server {
	t.Helper()
	s, err := cluster.StartServer(cluster.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestClusterCommandErrors: bad input gives a clear error, never a hang.
func TestClusterCommandErrors(t *testing.T) {
	s := startBus(t)
	url := s.ClientURL()
	if err := run(context.Background(), []string{"cameras", "--nats", url, "add", "dup", "synthetic"}, io.Discard, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + freeAddr(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"cameras", "--nats", url, "add", "c1", "http://example.com/live"}, `unknown source scheme "http"`},
		{[]string{"cameras", "--nats", url, "add", "dup", "synthetic"}, `camera "dup": camera already registered (source synthetic)`},
		{[]string{"cameras", "--nats", url, "add", "a.b", "synthetic"}, `bad id "a.b"`},
		{[]string{"cameras", "--nats", url, "add", "c1"}, "want 2 argument(s), got 1"},
		{[]string{"cameras", "--nats", url, "rm", "nobody"}, `camera "nobody": no such camera`},
		{[]string{"cameras", "--nats", url, "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"cameras"}, "give add ID SOURCE, rm ID or list"},
		{[]string{"cameras", "--nats", closed, "list"}, "cannot reach the bus at " + closed},
		{[]string{"cameras", "--nats", "http://127.0.0.1:4222", "list"}, `scheme "http" is not nats`},
		{[]string{"worker", "--nats", closed, "--name", "w", "--max-streams", "1"}, "cannot reach the bus at " + closed},
		{[]string{"worker", "--nats", url, "--name", "a.b"}, "--name: bad id"},
		{[]string{"worker", "--nats", url, "--max-streams", "0"}, "--max-streams 0 out of range"},
		{[]string{"worker", "--nats", url, "--lease-ttl", "1s"}, "--lease-ttl 1s out of range"},
		{[]string{"worker", "--nats", url, "--addr", "0.0.0.0:9090"}, "give --token"},
		{[]string{"worker", "extra"}, "unexpected argument"},
		{[]string{"--synthetic", "--publish", closed}, "--publish: cannot reach the bus at " + closed},
		{[]string{"--synthetic", "--publish", url, "--stream-id", "a b"}, "--stream-id: bad id"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--publish", closed}, "--publish: cannot reach the bus at " + closed},
		{[]string{"serve", "--stream-id", "x"}, "no source flag: --stream-id needs one of"},
		{[]string{"nats", "--addr", "0.0.0.0:4222"}, "give --token"},
		{[]string{"nats", "--addr", s.Addr().String()}, "address already in use"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel() // an unreachable bus takes the connect timeout, 5 s
			start := time.Now()
			err := run(context.Background(), tt.args, io.Discard, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
			if d := time.Since(start); d > cluster.DefaultConnectTimeout+5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestCamerasList: the list's JSON and table forms.
func TestCamerasList(t *testing.T) {
	s := startBus(t)
	url := s.ClientURL()
	log := slog.New(slog.DiscardHandler)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"cameras", "--nats", url, "list", "--json"}, &out, log); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("empty list: %q", out.String())
	}
	clip := filepath.Join(t.TempDir(), "door.mp4")
	for _, args := range [][]string{{"add", "front", "rtsp://cam.local:8554/live"}, {"add", "door", clip}, {"add", "gen", "synthetic"}} {
		out.Reset()
		if err := run(context.Background(), append([]string{"cameras", "--nats", url}, args...), &out, log); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), "added "+args[1]+": ") {
			t.Errorf("add: %q", out.String())
		}
	}
	out.Reset()
	// --nats may also follow the subcommand.
	if err := run(context.Background(), []string{"cameras", "list", "--nats", url, "--json"}, &out, log); err != nil {
		t.Fatal(err)
	}
	var raw []map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(raw) != 3 {
		t.Fatalf("list: %s", out.String())
	}
	for _, c := range raw {
		if len(c) != 4 || c["worker"] != "" || c["since"] != nil {
			t.Errorf("entry %v: want exactly id, source, worker \"\" and since null", c)
		}
	}
	if raw[0]["id"] != "door" || raw[0]["source"] != clip || raw[1]["source"] != "rtsp://cam.local:8554/live" {
		t.Errorf("list: %s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"cameras", "--nats", url, "rm", "door"}, &out, log); err != nil || out.String() != "removed door\n" {
		t.Fatalf("rm: %q, %v", out.String(), err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"cameras", "--nats", url, "list"}, &out, log); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "front") || !strings.Contains(lines[2], "synthetic") {
		t.Errorf("table:\n%s", out.String())
	}
}

// TestWorkerCommand runs the worker command in this process: it runs the
// cameras, publishes, serves /metrics, and on cancellation (SIGTERM)
// returns nil, leaving no goroutine behind.
func TestWorkerCommand(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s, err := cluster.StartServer(cluster.ServerOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := s.ClientURL()
	log := slog.New(slog.DiscardHandler)
	for _, id := range []string{"a", "b"} {
		if err := run(context.Background(), []string{"cameras", "--nats", url, "add", id, "synthetic"}, io.Discard, log); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 256)
	sub, err := nc.ChanSubscribe(cluster.SubjectPrefix+"*", msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"worker", "--nats", url, "--name", "solo", "--max-streams", "2", "--addr", addr,
			"--size", "64", "--threads", "1", "--fps", "5", "--synthetic-width", "64", "--synthetic-height", "48", "--synthetic-fps", "10"}, io.Discard, log)
	}()
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(seen) < 2 {
		select {
		case m := <-msgs:
			var ev cluster.Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Worker != "solo" || len(ev.Top) != 5 {
				t.Errorf("event %s", m.Data)
			}
			seen[ev.Stream] = true
		case err := <-done:
			t.Fatalf("worker ended: %v", err)
		case <-deadline:
			t.Fatalf("predictions of %v only", seen)
		}
	}
	if m := scrape(t, addr); !strings.Contains(m, "livetsm_worker_cameras 2\n") || !strings.Contains(m, "livetsm_worker_leases_lost_total 0\n") {
		t.Errorf("/metrics:\n%s", grepLines(m, "livetsm_"))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop within 10 s of cancellation")
	}
}

// TestLivePublish: the terminal mode's --publish puts every prediction on
// the bus, the --json object plus stream and worker.
func TestLivePublish(t *testing.T) {
	s := startBus(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msgs := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(cluster.Subject("desk"), msgs); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	var out bytes.Buffer
	err = run(context.Background(), []string{"--synthetic", "--json", "--size", "64", "--max-frames", "4",
		"--synthetic-width", "96", "--synthetic-height", "72", "--publish", s.ClientURL(), "--stream-id", "desk"}, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	printed := decodeLines(t, out.String())
	for i := range 4 {
		select {
		case m := <-msgs:
			var ev map[string]any
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev["stream"] != "desk" || ev["worker"] != hostName() || ev["label"] != printed[i].Label || ev["frame"] != float64(printed[i].Frame) {
				t.Errorf("event %d: %s; printed %+v", i, m.Data, printed[i])
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 4 predictions on the bus", i)
		}
	}
}

func TestLiveStreamID(t *testing.T) {
	tests := []struct {
		c    liveConfig
		set  string
		want string
	}{
		{liveConfig{}, "synthetic", "synthetic"},
		{liveConfig{camera: 2}, "camera", "camera-2"},
		{liveConfig{video: "/data/clips/left turn.mp4"}, "video", "video-left-turn-mp4"},
		{liveConfig{rtsp: "rtsp://admin:pw@10.0.0.7:554/stream1"}, "rtsp", "rtsp-10-0-0-7-554-stream1"},
	}
	for _, tt := range tests {
		if got := liveStreamID(&tt.c, map[string]bool{tt.set: true}); got != tt.want || cluster.ValidID(got) != nil {
			t.Errorf("%s: %q, want %q", tt.set, got, tt.want)
		}
	}
}

// fakeFile is a finite source of n frames 1/fps apart, as a video file.
type fakeFile struct {
	n, i int
	fps  float64
}

func (f *fakeFile) Read(_ context.Context, buf *image.RGBA) (stream.Frame, error) {
	if f.i >= f.n {
		return stream.Frame{}, io.EOF
	}
	ts := time.Unix(0, 0).Add(time.Duration(float64(f.i) / f.fps * float64(time.Second)))
	f.i++
	return stream.Frame{Image: image.NewRGBA(image.Rect(0, 0, 4, 4)), Time: ts}, nil
}
func (f *fakeFile) Live() bool   { return false }
func (f *fakeFile) Close() error { return nil }

// TestLoopingFile: a file camera plays in real time, in a loop, each new
// pass marked Reset.
func TestLoopingFile(t *testing.T) {
	opens := 0
	l, err := newLoopingFile(func() (stream.Source, error) {
		opens++
		return &fakeFile{n: 3, fps: 20}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Live() {
		t.Error("not live")
	}
	start := time.Now()
	var resets []int
	var times []time.Time
	for i := range 7 {
		f, err := l.Read(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.Reset {
			resets = append(resets, i)
		}
		times = append(times, f.Time)
	}
	// 7 frames at 20 fps take 6/20 s of wall clock.
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("7 frames took %v, want about 300 ms", d)
	}
	if !slices.Equal(resets, []int{3, 6}) || opens != 3 {
		t.Errorf("resets at %v after %d opens, want [3 6] after 3", resets, opens)
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < 40*time.Millisecond || d > 60*time.Millisecond {
			t.Errorf("frame %d %v after the previous one, want 50 ms", i, d)
		}
	}
	// A file with no frames is an error, not a busy loop.
	empty, err := newLoopingFile(func() (stream.Source, error) { return &fakeFile{fps: 20}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Read(context.Background(), nil); err == nil {
		t.Error("an empty file gave a frame")
	}
	// A missing file is an error at once.
	if _, err := newLoopingFile(func() (stream.Source, error) { return nil, os.ErrNotExist }); err == nil {
		t.Error("no error for a missing file")
	}
}
