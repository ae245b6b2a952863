package peer

import (
	"bytes"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

func sampleRequests() []request {
	return []request{
		{Op: opPost, Target: "0a0b0c0d", Timeout: 1500 * time.Millisecond, Stage: "prod", ID: "AbCdEfGhIjKlMnO=", Data: []byte{0, 1, 0xff}},
		{Op: opPost, Target: "0a0b0c0d", Stage: "prod", ID: "x"},
		{Op: opGet, Target: "t", Stage: "s", ID: "i"},
		{Op: opDelete, Target: "t", Stage: "s", ID: "i"},
		{Op: opJoin, Target: "t", Stage: "s", Channel: "chat:é", ID: "i"},
		{Op: opLeave, Target: "t", Stage: "s", Channel: "c", ID: "i"},
		{Op: opList, Target: "t", Stage: "s", Cursor: "0a0b0c0d.12", Limit: 100},
		{Op: opList, Target: "t", Stage: "s", Limit: -1},
		{Op: opList, Target: "t", Stage: "s", Limit: math.MinInt32},
		{Op: opUser, Target: "t", Stage: "s", User: "u", UserOp: cluster.UserPost, Data: []byte("d")},
		{Op: opUser, Target: "t", Stage: "s", User: "u", UserOp: cluster.UserList},
	}
}

func TestRequestRoundTrip(t *testing.T) {
	for _, want := range sampleRequests() {
		b := appendRequest(nil, &want)
		got, err := decodeRequest(want.Op, b)
		if err != nil {
			t.Fatalf("%s: %v", want.Op, err)
		}
		if len(want.Data) == 0 {
			got.Data, want.Data = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v, want %+v", want.Op, got, want)
		}
		// Every strict prefix is refused.
		for i := range b {
			if _, err := decodeRequest(want.Op, b[:i]); err == nil {
				t.Fatalf("%s: the prefix of %d bytes decoded", want.Op, i)
			}
		}
	}
}

func TestDecodeRefusesOversizedFields(t *testing.T) {
	long := string(bytes.Repeat([]byte("s"), maxField+1))
	b := appendRequest(nil, &request{Op: opGet, Target: "t", Stage: long, ID: "i"})
	if _, err := decodeRequest(opGet, b); err == nil {
		t.Fatal("a stage above maxField decoded")
	}
	b = appendRequest(nil, &request{Op: opGet, Target: "t", Stage: "\xff", ID: "i"})
	if _, err := decodeRequest(opGet, b); err == nil {
		t.Fatal("a stage that is not UTF-8 decoded")
	}
	// A count of connections larger than the body cannot allocate.
	for v := 1; v <= answerVersion; v++ {
		if _, err := decodePage(appendUvarint(nil, 1<<40), v); err == nil {
			t.Fatal("a lying count decoded")
		}
	}
}

// TestAnswerVersions: each answer version round-trips what it carries,
// version 1 leaves the queues out, and an answer read as the other
// version is refused rather than misread.
func TestAnswerVersions(t *testing.T) {
	info := cluster.ConnectionInfo{ID: "i", ConnectedAt: time.Unix(1, 2).UTC(), SourceIP: "::1", User: "u",
		Channels: []string{"a"}, SendQueueBytes: 70000, Inbox: 3}
	v1 := info
	v1.SendQueueBytes, v1.Inbox = 0, 0
	for v, want := range map[int]cluster.ConnectionInfo{1: v1, 2: info} {
		b := appendInfo(nil, &info, v)
		got, err := decodeInfo(b, v)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("version %d: got %+v, %v; want %+v", v, got, err, want)
		}
		if _, err := decodeInfo(b, 3-v); err == nil {
			t.Fatalf("a version %d connection decoded as version %d", v, 3-v)
		}
		p := cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{info, info}, Next: "n"}
		gp, err := decodePage(appendPage(nil, &p, v), v)
		if err != nil || len(gp.Connections) != 2 || !reflect.DeepEqual(gp.Connections[1], want) || gp.Next != "n" {
			t.Fatalf("version %d page: %+v, %v", v, gp, err)
		}
	}
	if _, err := decodeInfo(append(appendInfo(nil, &info, 1), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0), 2); err == nil {
		t.Fatal("a send queue above 2^31 decoded")
	}
}

func TestAnswerVersionHeaders(t *testing.T) {
	for h, want := range map[string]int{"": 1, "1": 1, "2": 2, "3": 2, "99": 2, "0": 1, "-2": 1, "x": 1, " 2": 1} {
		if got := callerAnswerVersion(h); got != want {
			t.Errorf("callerAnswerVersion(%q) = %d, want %d", h, got, want)
		}
	}
	for h, want := range map[string]int{"": 1, "1": 1, "2": 2} {
		if got, err := parseAnswerVersion(h); err != nil || got != want {
			t.Errorf("parseAnswerVersion(%q) = %d, %v; want %d", h, got, err, want)
		}
	}
	for _, h := range []string{"0", "3", "x", "-1"} {
		if _, err := parseAnswerVersion(h); err == nil {
			t.Errorf("parseAnswerVersion(%q) accepted it", h)
		}
	}
}

// FuzzDecodeRequest: the server's decoder never panics, and what it accepts
// encodes back to a body that decodes to the same call.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range sampleRequests() {
		f.Add(byte(r.Op), appendRequest(nil, &r))
	}
	f.Add(byte(0), []byte{})
	f.Add(byte(9), []byte{1, 0})
	f.Fuzz(func(t *testing.T, o byte, body []byte) {
		r, err := decodeRequest(op(o), body)
		if err != nil {
			return
		}
		again, err := decodeRequest(r.Op, appendRequest(nil, &r))
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", r, err)
		}
		if len(r.Data) == 0 {
			r.Data, again.Data = nil, nil
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip: %+v != %+v", again, r)
		}
	})
}

// FuzzDecodeAnswer: the client's decoders of answers never panic, in
// either answer version, and what they accept round-trips.
func FuzzDecodeAnswer(f *testing.F) {
	info := cluster.ConnectionInfo{ID: "i", ConnectedAt: time.Unix(1, 2), LastActiveAt: time.Unix(-5, 999999999), SourceIP: "::1", User: "u", Channels: []string{"a", "b"}, SendQueueBytes: 1 << 20, Inbox: 2}
	for v := 1; v <= answerVersion; v++ {
		f.Add(byte(v), appendInfo(nil, &info, v))
		f.Add(byte(v), appendPage(nil, &cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{info, {}}, Next: "n"}, v))
		f.Add(byte(v), appendUserResult(nil, &cluster.UserResult{Count: 3, Connections: []cluster.ConnectionInfo{info}}, v))
	}
	f.Fuzz(func(t *testing.T, vb byte, b []byte) {
		v := 1 + int(vb)%answerVersion
		if c, err := decodeInfo(b, v); err == nil {
			if again, err := decodeInfo(appendInfo(nil, &c, v), v); err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("info round trip: %+v, %v", again, err)
			}
		}
		if p, err := decodePage(b, v); err == nil {
			if again, err := decodePage(appendPage(nil, &p, v), v); err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("page round trip: %+v, %v", again, err)
			}
		}
		if u, err := decodeUserResult(b, v); err == nil {
			if again, err := decodeUserResult(appendUserResult(nil, &u, v), v); err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("user round trip: %+v, %v", again, err)
			}
		}
	})
}
