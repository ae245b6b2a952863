package redcluster

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster"
)

var envelopeSamples = []cluster.Message{
	{Kind: cluster.Publication, Data: []byte("hello")},
	{Kind: cluster.Publication, Epoch: "AbCdEfGhIjK", Offset: 42, Exclude: "Zm9vYmFyYmF6cXV4=", Data: []byte{0, 1, 2, 0xff}},
	{Kind: cluster.Publication, Epoch: "e", Offset: 18446744073709551615},
	{Kind: cluster.Join, Member: cluster.Member{ID: "abc", User: "alice", Info: json.RawMessage(`{"a":1}`)}},
	{Kind: cluster.Leave, Member: cluster.Member{ID: strings.Repeat("x", 300), User: "bob"}},
	{Kind: cluster.Join, Member: cluster.Member{ID: "abc", User: "alice"}, UserEdge: true},
	{Kind: cluster.Leave, Member: cluster.Member{ID: "abc", User: "alice"}, UserEdge: true},
	{Kind: cluster.Publication, Epoch: "e", Offset: 7, Exclude: "x", Name: "client-typing", User: "u-1", Data: []byte(`{"a":1}`)},
	{Kind: cluster.Publication, Name: "ev"},
	{Kind: cluster.Publication, User: strings.Repeat("u", 200), Data: []byte{0}},
}

// TestEnvelopeUnnamedUnchanged: a message without a name or user is
// encoded exactly as before those fields existed (nodes of an earlier
// release read it), and one with them sets the flag in the kind byte.
func TestEnvelopeUnnamedUnchanged(t *testing.T) {
	m := cluster.Message{Kind: cluster.Publication, Epoch: "ep", Offset: 3, Exclude: "ab", Data: []byte("hi")}
	if got, want := string(encodeEnvelope(m)), "\x013:ep:\x00\x00\x00\x02abhi"; got != want {
		t.Errorf("unnamed envelope %q; want %q", got, want)
	}
	m.Name, m.User = "n", "u"
	if got, want := string(encodeEnvelope(m)), "\x813:ep:\x00\x00\x00\x02ab\x01n\x01uhi"; got != want {
		t.Errorf("named envelope %q; want %q", got, want)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, m := range envelopeSamples {
		got, err := decodeEnvelope(string(encodeEnvelope(m)))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip: %+v; want %+v", got, m)
		}
	}
}

func TestEnvelopeRejects(t *testing.T) {
	for _, s := range []string{
		"", "\x01", "\x01::", "\x00::\x00\x00\x00\x00", "\x05::\x00\x00\x00\x00", // short, kind 0 and 5
		"\x01x:e:\x00\x00\x00\x00",                           // offset not a number
		"\x010:e:\x00\x00\x00\x00",                           // offset 0 with an epoch
		"\x01+1:e:\x00\x00\x00\x00",                          // signed offset
		"\x011::\x00\x00\x00\x00",                            // offset without epoch
		"\x01:e:\x00\x00\x00\x00",                            // epoch without offset
		"\x01::\x05ab",                                       // member id longer than the rest
		"\x01::\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", // varint overflow
		"\x01::\x00\x00",                                     // truncated member
		"\x81::\x00\x00\x00\x00",                             // named flag without the named section
		"\x81::\x00\x00\x00\x00\x01n",                        // named section without the user
		"\x84::\x00\x00\x00\x00\x00\x00",                     // named flag on kind 4
		"\x01:" + strings.Repeat("9", 21) + ":\x00\x00\x00\x00",
		"\x02::\x00\x00\x00\x00x",  // a notice's user edge neither "" nor "1"
		"\x03::\x00\x00\x00\x0011", // the same
	} {
		if m, err := decodeEnvelope(s); err == nil {
			t.Errorf("decodeEnvelope(%q) = %+v; want an error", s, m)
		}
	}
}

func TestStoredMember(t *testing.T) {
	m := cluster.Member{ID: "id", User: "u", Info: json.RawMessage(`{}`)}
	got, inc, notice, err := decodeStored(string(storedMember(m, "0123abcd", true)))
	if err != nil || !reflect.DeepEqual(got, m) || inc != "0123abcd" || !notice {
		t.Errorf("decodeStored = %+v %q %v %v", got, inc, notice, err)
	}
	// The Leave notice a script builds from it: head, member, empty
	// exclude, no data.
	v := string(storedMember(m, "0123abcd", false))
	env, err := decodeEnvelope(leaveHead + v[1+incLen:] + "\x00")
	if err != nil || env.Kind != cluster.Leave || !reflect.DeepEqual(env.Member, m) || env.Exclude != "" || env.Data != nil || env.UserEdge {
		t.Errorf("notice built from the stored member: %+v, %v", env, err)
	}
	// With the user's last connection, the script appends the edge.
	env, err = decodeEnvelope(leaveHead + v[1+incLen:] + "\x00" + "1")
	if err != nil || !env.UserEdge || !reflect.DeepEqual(env.Member, m) {
		t.Errorf("notice with the user edge: %+v, %v", env, err)
	}
}

// FuzzEnvelope: the decoders never panic, and what they accept re-encodes
// to the same message.
func FuzzEnvelope(f *testing.F) {
	for _, m := range envelopeSamples {
		f.Add(encodeEnvelope(m))
	}
	f.Add(storedMember(cluster.Member{ID: "a", User: "b"}, "01234567", true))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := decodeEnvelope(string(b)); err == nil {
			again, err := decodeEnvelope(string(encodeEnvelope(m)))
			if err != nil || !reflect.DeepEqual(again, m) {
				t.Fatalf("accepted %q as %+v, which re-encodes to %+v, %v", b, m, again, err)
			}
		}
		if m, inc, notice, err := decodeStored(string(b)); err == nil {
			again := storedMember(m, inc, notice)
			if m2, inc2, notice2, err := decodeStored(string(again)); err != nil || !reflect.DeepEqual(m2, m) || inc2 != inc || notice2 != notice {
				t.Fatalf("stored member %q does not round-trip", b)
			}
			if len(again) > len(b) || !bytes.HasPrefix(b, again[:1+incLen]) {
				t.Fatalf("stored member %q re-encodes longer or with another head: %q", b, again)
			}
		}
	})
}
