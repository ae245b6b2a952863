package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// workerStopWait is how long a worker may take to exit after its stdin
// closed before it is killed.
const workerStopWait = 5 * time.Second

// childProc is a worker process that speaks JSON lines: the coordinator
// writes one command per line on its stdin and reads replies of type R,
// one per line, from its stdout (bench fanout's and bench storm's
// workers). Only the coordinator's goroutine uses it, except the reader
// goroutine, which owns the child's stdout and ends when the child exits.
type childProc[R any] struct {
	id      int
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	enc     *json.Encoder
	replies chan R
	closing chan struct{} // closed by halt: the reader drops further replies
	exited  chan struct{} // closed after cmd.Wait returned
	waitErr error         // set before exited is closed
}

// startChild runs argv with env added to this process's environment and
// its stderr on stderr.
func startChild[R any](id int, argv, env []string, stderr io.Writer) (*childProc[R], error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", id, err)
	}
	p := &childProc[R]{
		id: id, cmd: cmd, stdin: stdin, enc: json.NewEncoder(stdin),
		replies: make(chan R),
		closing: make(chan struct{}),
		exited:  make(chan struct{}),
	}
	go func() {
		dec := json.NewDecoder(stdout)
		for {
			var r R
			if err := dec.Decode(&r); err != nil {
				break
			}
			select {
			case p.replies <- r:
			case <-p.closing:
			}
		}
		close(p.replies)
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// send writes one command to the worker.
func (p *childProc[R]) send(c any) error {
	if err := p.enc.Encode(c); err != nil {
		return fmt.Errorf("worker %d: %w", p.id, err)
	}
	return nil
}

// next waits for the worker's next reply.
func (p *childProc[R]) next(ctx context.Context) (R, error) {
	select {
	case r, ok := <-p.replies:
		if !ok {
			select {
			case <-p.exited:
				return r, fmt.Errorf("worker %d exited: %v", p.id, p.waitErr)
			case <-ctx.Done():
				return r, fmt.Errorf("worker %d closed its output: %w", p.id, ctx.Err())
			}
		}
		return r, nil
	case <-ctx.Done():
		var zero R
		return zero, fmt.Errorf("waiting for worker %d: %w", p.id, ctx.Err())
	}
}

// stopChildren sends stop to every worker and closes its stdin, then
// waits for them to exit, killing those still running after
// workerStopWait. child gives each worker's process.
func stopChildren[P any, R any](procs []P, stop any, child func(P) *childProc[R]) {
	for _, w := range procs {
		p := child(w)
		close(p.closing)
		_ = p.send(stop)
		p.stdin.Close()
	}
	deadline := time.Now().Add(workerStopWait)
	for _, w := range procs {
		p := child(w)
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-p.exited:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		t.Stop()
	}
}

// shareOut is worker i's part of total connections among workers: the
// global index of its first connection, how many it opens, and the local
// addresses it dials from (sources dealt out in turn when there are more
// of them than workers, else one each, in turn). sources is not empty.
func shareOut(i, workers, total int, sources []string) (first, n int, mine []string) {
	n = total / workers
	first = i*n + min(i, total%workers)
	if i < total%workers {
		n++
	}
	if len(sources) > workers {
		for j := i; j < len(sources); j += workers {
			mine = append(mine, sources[j])
		}
	} else {
		mine = []string{sources[i%len(sources)]}
	}
	return first, n, mine
}

// readCommands is a worker's side of the JSON lines: it decodes one
// command per line of in (the coordinator's pipe) and hands each over on
// the first channel until ctx ends. When in closes (the coordinator is
// gone) or a line is not a command, it calls cancel and sends the read
// error (nil at the end of in) on the second channel.
func readCommands[C any](ctx context.Context, cancel context.CancelFunc, in io.Reader) (<-chan C, <-chan error) {
	cmds := make(chan C)
	readErr := make(chan error, 1)
	go func() {
		defer cancel()
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			var c C
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				readErr <- fmt.Errorf("worker command: %w", err)
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	return cmds, readErr
}

// workerLife is the life of a worker process's command loop (runWorker):
// ctx until the connect command, then ctx bounded by that command's
// deadline.
type workerLife struct {
	ctx     context.Context // the process's: ends when in closes
	life    context.Context
	idle    *time.Timer // until the connect command
	cancels []context.CancelFunc
}

// connected stops the idle timer and, with a deadline (unix ns; 0 for
// none), ends the worker's life at it.
func (l *workerLife) connected(deadline int64) {
	l.idle.Stop()
	if deadline > 0 {
		var cancel context.CancelFunc
		l.life, cancel = context.WithDeadlineCause(l.ctx, time.Unix(0, deadline), errWorkerDeadline)
		l.cancels = append(l.cancels, cancel)
	}
}

// runWorker is the command loop of a worker process (fan-out and storm):
// it reads one command per line of in (readCommands), hands each to
// handle and writes the reply handle returns as a JSON line on out,
// until handle says stop, in closes (nil, or the read error) or the
// connect command's deadline passes (errWorkerDeadline). A worker given no
// connect command within workerIdleLimit exits with an error naming it.
func runWorker[C any](ctx context.Context, in io.Reader, out io.Writer, name string, handle func(l *workerLife, c C) (reply any, stop bool)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmds, readErr := readCommands[C](ctx, cancel, in)
	enc := json.NewEncoder(out)
	l := &workerLife{ctx: ctx, life: ctx, idle: time.NewTimer(workerIdleLimit)}
	defer l.idle.Stop()
	defer func() {
		for _, c := range l.cancels {
			c()
		}
	}()
	for {
		var c C
		select {
		case c = <-cmds:
		case <-l.life.Done():
			select {
			case err := <-readErr:
				return err
			default:
			}
			if errors.Is(context.Cause(l.life), errWorkerDeadline) {
				return errWorkerDeadline
			}
			return nil
		case <-l.idle.C:
			return fmt.Errorf("%s worker: no connect command within a minute", name)
		}
		r, stop := handle(l, c)
		if err := enc.Encode(r); err != nil || stop {
			return err
		}
	}
}
