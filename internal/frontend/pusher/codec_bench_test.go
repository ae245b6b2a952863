package pusher_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster/memory"
	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/frontend/pusher"
	"github.com/switchboardhq/switchboard/internal/hub"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// benchPayload is the publication of the hub's BenchmarkPublish (108
// bytes of JSON, shaped like bench fanout's).
var benchPayload = []byte(`{"t":1764225600000000000,"seq":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)

// discard is a Sender that drops frames, so the benchmarks measure the
// hub and the codec alone.
type discard struct{}

func (discard) Send(ws.Frame) error { return nil }

func (discard) SendMessage(*ws.Message) error { return nil }

// BenchmarkCodecPublication encodes one publication of benchPayload as a Pusher channel event and as a switchboard.v1 envelope
// (through a one-member hub, since the v1 codec is the hub's own):
// the cost of each encoding per publication.
func BenchmarkCodecPublication(b *testing.B) {
	b.Run("pusher/direct", func(b *testing.B) {
		p := &hub.Publication{Channel: "room", Data: benchPayload}
		var dst []byte
		b.ReportAllocs()
		for b.Loop() {
			_, dst = pusher.Codec{}.Publication(dst[:0], p)
		}
		b.ReportMetric(float64(len(dst)), "bytes")
	})
	benchHubPublish(b, []int{1})
}

// BenchmarkHubPublishPusher is the hub's BenchmarkPublish (no history)
// with a hub that has the Pusher codec, for members of each protocol:
// ns/op is per publication (one encoding, then a Send per member).
func BenchmarkHubPublishPusher(b *testing.B) {
	benchHubPublish(b, []int{1000, 15000})
}

func benchHubPublish(b *testing.B, sizes []int) {
	for _, n := range sizes {
		for _, proto := range []string{"pusher", "v1"} {
			b.Run(fmt.Sprintf("hub/members=%d/%s", n, proto), func(b *testing.B) {
				h := newBenchHub(b)
				codec := hub.V1
				if proto == "pusher" {
					codec = hub.FirstFrontEnd
				}
				ctx := context.Background()
				for i := range n {
					if _, err := h.Subscribe(ctx, hub.NewMember(fmt.Sprint(i), "", nil, codec, discard{}), "room", hub.SubscribeOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := h.Publish(ctx, "room", benchPayload, ""); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			})
		}
	}
}

// newBenchHub is a single-node hub (the in-process backend) whose one
// front-end codec is Pusher's, and whose channels anyone may join.
func newBenchHub(b *testing.B) *hub.Hub {
	be := memory.New(memory.Options{})
	b.Cleanup(be.Close)
	node := be.NewNode("")
	if err := node.Registry().Join(context.Background()); err != nil {
		b.Fatal(err)
	}
	h, err := hub.New(hub.Options{
		API:      "bench",
		Channels: config.Channels{MaxPerConnection: 8, MaxNameBytes: 64, Namespaces: []config.Namespace{{Pattern: "*", Subscribe: "allow"}}},
		Bus:      node.Bus(), History: node.History("bench"),
		Codecs: []hub.Codec{pusher.Codec{}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}
