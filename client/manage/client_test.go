package manage_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/client/manage"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func newClient(t *testing.T, endpoint string, o manage.Options) *manage.Client {
	t.Helper()
	c, err := manage.New(endpoint, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apiError asserts that err is an *Error of status and type.
func apiError(t *testing.T, err error, status int, typ string) *manage.Error {
	t.Helper()
	var e *manage.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *manage.Error %s", err, err, typ)
	}
	if e.Status != status || e.Type != typ || e.Message == "" {
		t.Fatalf("err = %+v, want %d %s with a message", e, status, typ)
	}
	return e
}

// Every operation, signed with SigV4 and with the API key, against a real
// server and raw WebSocket clients that receive what is sent.
func TestOperations(t *testing.T) {
	f := start(t)
	for _, cred := range []struct {
		name string
		o    manage.Options
	}{
		{"api-key", manage.Options{APIKey: testAPIKey}},
		{"sigv4", manage.Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecret, Region: "eu-west-1"}},
	} {
		t.Run(cred.name, func(t *testing.T) {
			ctx := ctx(t)
			c := newClient(t, f.endpoint, cred.o)
			a1, a2, b := f.dial(cred.name+"a1", "alice"), f.dial(cred.name+"a2", "alice"), f.dial(cred.name+"b", "bob")

			if err := c.PostToConnection(ctx, a1.ID, []byte("hello a1")); err != nil {
				t.Fatal(err)
			}
			if got := a1.read(); string(got) != "hello a1" {
				t.Fatalf("a1 got %q", got)
			}
			info, err := c.GetConnection(ctx, b.ID)
			if err != nil || info.ID != b.ID || info.Identity.SourceIP != "127.0.0.1" || info.ConnectedAt.IsZero() {
				t.Fatalf("GetConnection = %+v, %v", info, err)
			}

			var listed []string
			for conn, err := range c.AllConnections(ctx, 1) {
				if err != nil {
					t.Fatal(err)
				}
				listed = append(listed, conn.ID)
			}
			for _, id := range []string{a1.ID, a2.ID, b.ID} {
				if !slices.Contains(listed, id) {
					t.Fatalf("AllConnections = %v, lacks %s", listed, id)
				}
			}
			page, err := c.ListConnections(ctx, manage.Page{Limit: 1})
			if err != nil || len(page.Connections) != 1 || page.NextCursor == "" {
				t.Fatalf("ListConnections(limit 1) = %+v, %v", page, err)
			}

			// A channel name with a '/' and a '=' travels as one segment,
			// and is signed as the server checks it.
			room := "room:" + cred.name + "/x=y"
			for _, m := range []*conn{a1, b} {
				if err := c.JoinChannel(ctx, room, m.ID); err != nil {
					t.Fatal(err)
				}
			}
			pub, err := c.Publish(ctx, room, []byte(`{"n":1}`), manage.SendOptions{})
			if err != nil || pub.Recipients != 2 || pub.Position == nil || pub.Offset != 1 {
				t.Fatalf("Publish = %+v, %v", pub, err)
			}
			for _, m := range []*conn{a1, b} {
				if got := m.read(); string(got) != `{"n":1}` {
					t.Fatalf("%s got %q", m.ID, got)
				}
			}
			binary := []byte{0xff, 0x00, 'x'}
			if _, err := c.Publish(ctx, room, binary, manage.SendOptions{Exclude: b.ID}); err != nil {
				t.Fatal(err)
			}
			if got := a1.read(); !bytes.Equal(got, binary) {
				t.Fatalf("a1 got %q", got)
			}
			if _, err := c.Publish(ctx, room, []byte("plain text"), manage.SendOptions{Exclude: b.ID}); err != nil {
				t.Fatal(err)
			}
			a1.read()

			ch, err := c.Channel(ctx, room, manage.Page{})
			if err != nil || ch.Channel != room || ch.Members != 2 || len(ch.Presence) != 2 || ch.Position == nil || ch.Offset != 3 {
				t.Fatalf("Channel = %+v, %v", ch, err)
			}
			users := map[string]string{}
			for m, err := range c.Presence(ctx, room, 1) {
				if err != nil {
					t.Fatal(err)
				}
				users[m.ConnectionID] = m.User + " " + string(m.Info)
			}
			if users[a1.ID] != `alice {"name":"alice"}` || users[b.ID] != `bob {"name":"bob"}` {
				t.Fatalf("Presence = %v", users)
			}

			h, err := c.History(ctx, room, manage.HistoryQuery{})
			if err != nil || len(h.Publications) != 3 || h.Offset != 3 || h.Epoch == "" {
				t.Fatalf("History = %+v, %v", h, err)
			}
			for i, want := range [][]byte{[]byte(`{"n":1}`), binary, []byte("plain text")} {
				if p := h.Publications[i]; !bytes.Equal(p.Data, want) || p.Offset != uint64(i+1) || p.Time.IsZero() {
					t.Fatalf("publication %d = %+v, want %q", i, p, want)
				}
			}
			h, err = c.History(ctx, room, manage.HistoryQuery{Since: 2, Epoch: h.Epoch, Limit: 5})
			if err != nil || len(h.Publications) != 1 || string(h.Publications[0].Data) != "plain text" {
				t.Fatalf("History(since 2) = %+v, %v", h, err)
			}
			_, err = c.History(ctx, room, manage.HistoryQuery{Since: 1, Epoch: "not-the-epoch"})
			apiError(t, err, 409, manage.TypeConflict)

			if err := c.LeaveChannel(ctx, room, b.ID); err != nil {
				t.Fatal(err)
			}
			if ch, err := c.Channel(ctx, room, manage.Page{}); err != nil || ch.Members != 1 {
				t.Fatalf("after leave: %+v, %v", ch, err)
			}

			if n, err := c.PostToUser(ctx, "alice", []byte("to alice")); err != nil || n < 2 {
				t.Fatalf("PostToUser = %d, %v", n, err)
			}
			for _, m := range []*conn{a1, a2} {
				if got := m.read(); string(got) != "to alice" {
					t.Fatalf("%s got %q", m.ID, got)
				}
			}
			uc, err := c.UserConnections(ctx, "bob")
			if err != nil || !slices.ContainsFunc(uc, func(c manage.Connection) bool { return c.ID == b.ID && c.Channels != nil }) {
				t.Fatalf("UserConnections(bob) = %+v, %v", uc, err)
			}

			n, err := c.Broadcast(ctx, []byte("everyone"), manage.SendOptions{Exclude: a2.ID})
			if err != nil || n < 2 {
				t.Fatalf("Broadcast = %d, %v", n, err)
			}
			for _, m := range []*conn{a1, b} {
				if got := m.read(); string(got) != "everyone" {
					t.Fatalf("%s got %q", m.ID, got)
				}
			}

			res, err := c.Batch(ctx, []manage.Operation{
				{ConnectionID: b.ID, Data: []byte("batch 1")},
				{Channel: room, Data: []byte("batch 2")},
				{ConnectionID: "AAAAAAAAAAAAAAA=", Data: []byte("nobody")},
				{User: "bob", Data: []byte("batch 3")},
			})
			if err != nil || len(res) != 4 {
				t.Fatalf("Batch = %+v, %v", res, err)
			}
			if res[0].Err != nil || res[0].Recipients != 1 || res[1].Err != nil || res[1].Position == nil || res[1].Position.Offset != 4 {
				t.Fatalf("Batch results = %+v %+v", res[0], res[1])
			}
			if e := res[2].Err; e == nil || e.Type != manage.TypeGone || e.Status != 0 {
				t.Fatalf("Batch result 2 = %+v, want GoneException", res[2])
			}
			if got := b.read(); string(got) != "batch 1" {
				t.Fatalf("b got %q", got)
			}
			if got := a1.read(); string(got) != "batch 2" {
				t.Fatalf("a1 got %q", got)
			}
			if got := b.read(); string(got) != "batch 3" {
				t.Fatalf("b got %q", got)
			}

			if err := c.DeleteConnection(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
			if code := b.closed(); code != websocket.StatusNormalClosure {
				t.Fatalf("b closed with %d, want 1000", code)
			}
			for deadline := time.Now().Add(10 * time.Second); !f.b.gotDisconnect(b.ID); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no $disconnect for b")
				}
			}
			err = c.PostToConnection(ctx, b.ID, []byte("late"))
			if e := apiError(t, err, 410, manage.TypeGone); e.RequestID == "" {
				t.Fatalf("no request id in %+v", e)
			}
			if n, err := c.DisconnectUser(ctx, "alice"); err != nil || n < 2 {
				t.Fatalf("DisconnectUser = %d, %v", n, err)
			}
			a1.closed()
			a2.closed()
		})
	}
}

// Refusals come back as *Error with the AWS type and message.
func TestErrors(t *testing.T) {
	f := start(t)
	ctx := ctx(t)
	c := newClient(t, f.endpoint, manage.Options{APIKey: "not-the-key-at-all"})
	err := c.PostToConnection(ctx, "AAAAAAAAAAAAAAA=", nil)
	e := apiError(t, err, 403, manage.TypeForbidden)
	if !strings.Contains(e.Message, "Invalid API key") || !strings.Contains(err.Error(), "ForbiddenException: Invalid API key") || !strings.Contains(err.Error(), "(HTTP 403)") {
		t.Fatalf("wrong key: %v", err)
	}

	c = newClient(t, f.endpoint, manage.Options{AccessKeyID: testAccessKey, SecretAccessKey: "wrong-secret-0123456789"})
	_, err = c.GetConnection(ctx, "AAAAAAAAAAAAAAA=")
	if e := apiError(t, err, 403, manage.TypeForbidden); !strings.Contains(e.Message, "signature we calculated does not match") {
		t.Fatalf("wrong secret: %v", err)
	}

	// No credentials: the configuration has no development mode.
	c = newClient(t, f.endpoint, manage.Options{})
	_, err = c.ListConnections(ctx, manage.Page{})
	if e := apiError(t, err, 403, manage.TypeForbidden); !strings.HasPrefix(e.Message, "Missing Authentication Token") {
		t.Fatalf("no credentials: %v", err)
	}

	c = newClient(t, f.endpoint, manage.Options{APIKey: testAPIKey})
	_, err = c.History(ctx, "lobby", manage.HistoryQuery{})
	apiError(t, err, 400, manage.TypeBadRequest) // "*" keeps no history
	_, err = c.Publish(ctx, "bad channel", []byte("x"), manage.SendOptions{})
	apiError(t, err, 400, manage.TypeBadRequest)
	_, err = c.ListConnections(ctx, manage.Page{Limit: 5000})
	apiError(t, err, 400, manage.TypeBadRequest)

	// Another stage: AWS's bare 403.
	c = newClient(t, "http://"+f.addr+"/nostage", manage.Options{APIKey: testAPIKey})
	_, err = c.ListConnections(ctx, manage.Page{})
	apiError(t, err, 403, manage.TypeForbidden)

	// Nobody listening: the transport's error, naming the request.
	c = newClient(t, "http://127.0.0.1:1/test", manage.Options{})
	_, err = c.ListConnections(ctx, manage.Page{})
	if err == nil || !strings.Contains(err.Error(), "GET http://127.0.0.1:1/test/@connections") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		o        manage.Options
		want     string // error substring; "" for success
		norm     string
	}{
		{"http://h:1/prod", manage.Options{}, "", "http://h:1/prod"},
		{"https://h/prod/", manage.Options{}, "", "https://h/prod"},
		{"ws://h:8080/prod", manage.Options{}, "", "http://h:8080/prod"},
		{"wss://h/prod", manage.Options{}, "", "https://h/prod"},
		{"http://h:1", manage.Options{}, "has no stage", ""},
		{"http://h:1/", manage.Options{}, "has no stage", ""},
		{"h:1/prod", manage.Options{}, "want http(s)://host/{stage}", ""},
		{"ftp://h/prod", manage.Options{}, "want http(s)://host/{stage}", ""},
		{"http:///prod", manage.Options{}, "has no host", ""},
		{"http://h/prod?x=1", manage.Options{}, "without user, query or fragment", ""},
		{"http://h/prod", manage.Options{APIKey: "k", AccessKeyID: "a", SecretAccessKey: "s"}, "not both", ""},
		{"http://h/prod", manage.Options{AccessKeyID: "a"}, "both its id and its secret", ""},
		{"http://h/prod", manage.Options{SecretAccessKey: "s"}, "both its id and its secret", ""},
		{"http://h/prod", manage.Options{SessionToken: "t", APIKey: "k"}, "session token needs an access key", ""},
		{"%zz", manage.Options{}, "invalid URL escape", ""},
	} {
		c, err := manage.New(tc.endpoint, tc.o)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("New(%q): %v", tc.endpoint, err)
		case tc.want == "" && c.Endpoint() != tc.norm:
			t.Errorf("New(%q).Endpoint() = %q, want %q", tc.endpoint, c.Endpoint(), tc.norm)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("New(%q, %+v) = %v, want an error with %q", tc.endpoint, tc.o, err, tc.want)
		}
	}
}

func TestBatchValidation(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1/test", manage.Options{})
	for _, ops := range [][]manage.Operation{
		{{Data: []byte("x")}},
		{{Channel: "a", User: "u", Data: []byte("x")}},
		{{User: "u", Exclude: "AAAAAAAAAAAAAAA=", Data: []byte("x")}},
	} {
		if _, err := c.Batch(context.Background(), ops); err == nil || !strings.Contains(err.Error(), "operations[0]") {
			t.Errorf("Batch(%+v) = %v, want an error naming operations[0]", ops, err)
		}
	}
}
