package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboardhq/switchboard/internal/redistest"
)

// TestNodeKillDeliveryGap: kill -9 of a node while a channel with history
// is published to at a steady pace through another node. A subscriber on
// a surviving node keeps receiving every publication once, in order; a v1
// client of the killed node reconnects to a survivor, subscribes with
// recover from the last publication it saw, and gets every publication
// after it exactly once, in order (points 5 and 6). The test logs the time
// each was without delivery (docs/BENCHMARKS.md, "Cluster: failover").
func TestNodeKillDeliveryGap(t *testing.T) {
	srv := redistest.StartServer(t)
	c := startCluster(t, 3, redisTarget{mode: "single", addrs: []string{srv.Addr}})
	const ch = "room:gap"
	survivor := c.fdial(c.nodes[2], "survivor", "", ch, true)
	moving := c.fdial(c.nodes[0], "moving", "", ch, true)
	pubs := func(cl *fclient) []v1msg {
		return cl.messages(func(m v1msg) bool { return m.Type == "pub" && m.Channel == ch })
	}

	const (
		total  = 150
		killAt = 30
		pace   = 20 * time.Millisecond
	)
	var (
		mu    sync.Mutex
		acks  []pubAck
		perrs []string
	)
	reached := make(chan struct{})
	done := make(chan struct{})
	hc := &http.Client{Timeout: waitTimeout}
	t.Cleanup(hc.CloseIdleConnections)
	go func() {
		defer close(done)
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for seq := 1; seq <= total; seq++ {
			<-tick.C
			if seq == killAt {
				close(reached)
			}
			req, _ := http.NewRequest("POST", "http://"+c.nodes[1].addr+"/"+stage+"/@channels/"+ch, bytes.NewReader(fmt.Appendf(nil, `{"seq":%d}`, seq)))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			resp, err := hc.Do(req)
			if err != nil {
				mu.Lock()
				perrs = append(perrs, err.Error())
				mu.Unlock()
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var a struct {
				Epoch  string `json:"epoch"`
				Offset int64  `json:"offset"`
			}
			mu.Lock()
			if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil {
				perrs = append(perrs, fmt.Sprintf("publish %d: %d %s", seq, resp.StatusCode, body))
			} else {
				acks = append(acks, pubAck{seq, a.Epoch, a.Offset})
			}
			mu.Unlock()
		}
	}()

	<-reached
	before := pubs(moving)
	if len(before) == 0 {
		t.Fatal("the client of the node to kill received nothing before the kill")
	}
	killed := time.Now()
	c.kill(c.nodes[0])
	waitFor(t, "the killed node's client sees its connection end", func() bool { _, ok := moving.closed(); return ok })
	before = pubs(moving) // everything it read before the end
	last := before[len(before)-1]
	moved := c.fdial(c.nodes[1], "moved", "", "", true)
	sub, _ := json.Marshal(map[string]any{"type": "subscribe", "id": 1, "channel": ch, "recover": map[string]any{"epoch": last.Epoch, "offset": last.Offset}})
	if err := moved.ws.Write(context.Background(), websocket.MessageText, sub); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscribe reply", func() bool { return moved.count(func(m v1msg) bool { return m.Type == "reply" && m.ID == 1 }) == 1 })
	reply := moved.messages(func(m v1msg) bool { return m.Type == "reply" })[0]
	<-done
	mu.Lock()
	if len(perrs) > 0 {
		t.Errorf("publications through a survivor failed: %v", perrs)
	}
	final := acks[len(acks)-1]
	mu.Unlock()

	waitFor(t, "every publication at both clients", func() bool {
		s, m := pubs(survivor), pubs(moved)
		return len(s) > 0 && s[len(s)-1].Offset >= final.offset && len(m) > 0 && m[len(m)-1].Offset >= final.offset
	})
	check := func(who string, ms []v1msg, from int64) {
		for i, m := range ms {
			if m.Offset != from+int64(i) || m.Epoch != final.epoch {
				t.Fatalf("%s: publication %d is %s/%d; want %s/%d (every one once, in order)", who, i, m.Epoch, m.Offset, final.epoch, from+int64(i))
			}
		}
	}
	check("survivor", pubs(survivor), 1)
	after := pubs(moved)
	check("moved client", after, last.Offset+1)
	if len(after) == 0 {
		t.Fatal("the moved client received nothing")
	}
	sgap, _ := maxGap(pubs(survivor))
	t.Logf("node kill: survivor's longest time without delivery %v (publications every %v); the killed node's client: "+
		"%v from its last delivery to its first on a survivor (%v after the kill; subscribe reply %s %s)",
		sgap.Round(time.Millisecond), pace, after[0].at.Sub(last.at).Round(time.Millisecond),
		after[0].at.Sub(killed).Round(time.Millisecond), reply.Result, reply.Error)
}
