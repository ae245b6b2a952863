package peer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
)

// versionInfo is a connection whose every field is set, queues included.
func versionInfo() cluster.ConnectionInfo {
	return cluster.ConnectionInfo{ID: "conn", ConnectedAt: time.Unix(100, 5).UTC(), LastActiveAt: time.Unix(200, 6).UTC(),
		SourceIP: "127.0.0.1", UserAgent: "ua", User: "u", Channels: []string{"a", "b"}, SendQueueBytes: 123456, Inbox: 7}
}

// TestNewCallerOldOwner: during a rolling upgrade a node that reads answer
// version 2 calls one that predates it (which ignores the header and
// answers version 1, as a server that never sees the header does): Get,
// List and User still work, with the queues unknown (0).
func TestNewCallerOldOwner(t *testing.T) {
	local := clustertest.NewFakeLocal()
	want := versionInfo()
	local.Answer(want, cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{want}, Next: "n"},
		cluster.UserResult{Count: 1, Connections: []cluster.ConnectionInfo{want}}, nil)
	nodes := startNodes(t, mode{secret: true}, []cluster.Local{local, clustertest.NewFakeLocal()}, nil, nil)
	owner, caller := nodes[0], nodes[1]

	// The owner as an old node: the same server, never shown the header.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(headerAnswerVersion)
		owner.srv.ServeHTTP(w, r)
		if w.Header().Get(headerAnswerVersion) != "" {
			t.Errorf("an answer to a caller that asked for nothing names version %q", w.Header().Get(headerAnswerVersion))
		}
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	old := owner.node
	old.Advertise = ln.Addr().String()

	v1 := want
	v1.SendQueueBytes, v1.Inbox = 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, to := range map[string]cluster.Node{"old owner": old, "new owner": owner.node} {
		exp := want
		if name == "old owner" {
			exp = v1
		}
		got, err := caller.cli.Get(ctx, to, "s", "conn")
		if err != nil || !reflect.DeepEqual(got, exp) {
			t.Fatalf("%s: Get = %+v, %v; want %+v", name, got, err, exp)
		}
		p, err := caller.cli.List(ctx, to, "s", "", 10)
		if err != nil || len(p.Connections) != 1 || !reflect.DeepEqual(p.Connections[0], exp) || p.Next != "n" {
			t.Fatalf("%s: List = %+v, %v", name, p, err)
		}
		u, err := caller.cli.User(ctx, to, "s", "u", cluster.UserList, nil)
		if err != nil || u.Count != 1 || len(u.Connections) != 1 || !reflect.DeepEqual(u.Connections[0], exp) {
			t.Fatalf("%s: User = %+v, %v", name, u, err)
		}
	}
}

// TestOldCallerNewOwner: a caller that predates answer versions (no
// header) gets version 1, which its decoder reads to the end.
func TestOldCallerNewOwner(t *testing.T) {
	local := clustertest.NewFakeLocal()
	local.Answer(versionInfo(), cluster.ConnectionPage{}, cluster.UserResult{}, nil)
	owner := startNodes(t, mode{secret: true}, []cluster.Local{local}, nil, nil)[0]
	for _, h := range []string{"", "1", "garbage"} {
		body := appendRequest(nil, &request{Op: opGet, Target: owner.node.Incarnation, Stage: "s", ID: "conn"})
		req, err := http.NewRequest(http.MethodPost, "http://"+owner.node.Advertise+Path+"get", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if h != "" {
			req.Header.Set(headerAnswerVersion, h)
		}
		sign(req.Header, []byte(testSecret), http.MethodPost, Path+"get", "oldnode1", time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get(headerAnswerVersion) != "" {
			t.Fatalf("header %q: %s, version header %q: %s", h, resp.Status, resp.Header.Get(headerAnswerVersion), b.Bytes())
		}
		got, err := decodeInfo(b.Bytes(), 1)
		if err != nil || got.ID != "conn" || got.SendQueueBytes != 0 {
			t.Fatalf("header %q: the version 1 decoder read %+v, %v", h, got, err)
		}
	}
}

// TestAnswerVersionRefused: an answer naming a version the caller cannot
// read is an error that says so, never a misread connection.
func TestAnswerVersionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerAnswerVersion, "3")
		info := versionInfo()
		_, _ = w.Write(appendInfo(nil, &info, 2))
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	inc := cluster.NewIncarnation()
	cli, err := NewClient(Options{Self: func() string { return inc }, Secret: testSecret, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_, err = cli.Get(context.Background(), cluster.Node{ID: "n", Incarnation: "x", Advertise: ln.Addr().String()}, "s", "conn")
	if !errors.Is(err, ErrRemote) || !errors.Is(err, errMalformed) {
		t.Fatalf("Get = %v, want ErrRemote about the answer version", err)
	}
}
