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
	if _, err := decodePage(appendUvarint(nil, 1<<40)); err == nil {
		t.Fatal("a lying count decoded")
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

// FuzzDecodeAnswer: the client's decoders of answers never panic, and what
// they accept round-trips.
func FuzzDecodeAnswer(f *testing.F) {
	info := cluster.ConnectionInfo{ID: "i", ConnectedAt: time.Unix(1, 2), LastActiveAt: time.Unix(-5, 999999999), SourceIP: "::1", User: "u", Channels: []string{"a", "b"}}
	f.Add(appendInfo(nil, &info))
	f.Add(appendPage(nil, &cluster.ConnectionPage{Connections: []cluster.ConnectionInfo{info, {}}, Next: "n"}))
	f.Add(appendUserResult(nil, &cluster.UserResult{Count: 3, Connections: []cluster.ConnectionInfo{info}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeInfo(b); err == nil {
			if again, err := decodeInfo(appendInfo(nil, &c)); err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("info round trip: %+v, %v", again, err)
			}
		}
		if p, err := decodePage(b); err == nil {
			if again, err := decodePage(appendPage(nil, &p)); err != nil || !reflect.DeepEqual(again, p) {
				t.Fatalf("page round trip: %+v, %v", again, err)
			}
		}
		if u, err := decodeUserResult(b); err == nil {
			if again, err := decodeUserResult(appendUserResult(nil, &u)); err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("user round trip: %+v, %v", again, err)
			}
		}
	})
}
