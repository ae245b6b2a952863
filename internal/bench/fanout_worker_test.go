package bench

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// The worker answers each command in order, reports bad ones without
// exiting, and exits as soon as its stdin closes.
func TestWorkerProtocol(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- RunFanoutWorker(context.Background(), inR, outW)
		outW.Close()
	}()
	enc, dec := json.NewEncoder(inW), json.NewDecoder(outR)
	ask := func(c workerCommand) workerReply {
		t.Helper()
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
		var r workerReply
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ask(workerCommand{Cmd: "bogus"}); r.Type != "error" || r.Error != `unknown command "bogus"` {
		t.Fatalf("bogus command: %+v", r)
	}
	if r := ask(workerCommand{Cmd: cmdCount}); r.Type != "count" || r.Received != 0 || r.CPUUser+r.CPUSys <= 0 {
		t.Fatalf("count: %+v", r)
	}
	if r := ask(workerCommand{Cmd: cmdReport}); r.Type != "stats" || r.Histogram == nil || r.Histogram.Count() != 0 {
		t.Fatalf("report: %+v", r)
	}
	if r := ask(workerCommand{Cmd: cmdConnect, URL: "ftp://x", Channels: []string{"a"}}); r.Type != "error" {
		t.Fatalf("connect to a bad URL: %+v", r)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit on closed stdin: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not exit when its stdin closed")
	}
}
