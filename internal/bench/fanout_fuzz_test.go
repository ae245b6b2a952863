//go:build linux

package bench

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/switchboardhq/switchboard/internal/frontend/pusher/pusherproto"
)

// The read path takes whatever the server sends, split however the reads
// split it, without panicking, and keeps at most one partial frame.
func FuzzConsume(f *testing.F) {
	f.Add(serverFrame(true, opText, pubMsg(1795000000000000000, 100)), uint16(7))
	f.Add(append(serverFrame(true, opPing, []byte("p")), serverFrame(false, opText, []byte(`{"data":{"t":1`))...), uint16(1))
	f.Add(append(serverFrame(true, opBinary, []byte{0xff}), serverFrame(true, opClose, []byte{3, 232})...), uint16(3))
	f.Add([]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, uint16(10))
	f.Add([]byte{0x81, 0xFE, 0, 200, 1, 2, 3, 4}, uint16(100))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) { fuzzConsume(t, data, chunk, false) })
}

// The same with a Pusher loop, which also reads escaped times and answers
// pusher:ping.
func FuzzConsumePusher(f *testing.F) {
	f.Add(serverFrame(true, opText, pusherPubMsg(1795000000000000000, 100)), uint16(7))
	f.Add(append(serverFrame(true, opText, pusherproto.AppendPing(nil)), serverFrame(true, opText, pusherPubMsg(1795000000000000001, 10))...), uint16(5))
	f.Add(serverFrame(false, opText, []byte(`{"event":"pusher:ping","data":"{}"}`)), uint16(3))
	f.Add(serverFrame(true, opText, []byte(`{"event":"m","channel":"c","data":"{\"t\":99999999999999999999}"}`)), uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) { fuzzConsume(t, data, chunk, true) })
}

func fuzzConsume(t *testing.T, data []byte, chunk uint16, pusher bool) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skip(err)
	}
	defer unix.Close(fds[1])
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	l := &fanLoop{rbuf: make([]byte, loopReadBuf), perChannel: make([]int, 1), perNode: make([]int, 1), conns: make([]*fanConn, fds[0]+1), pusher: pusher}
	c := &fanConn{fd: fds[0]}
	l.conns[c.fd] = c
	l.perChannel[0], l.perNode[0] = 1, 1
	n := max(int(chunk), 1)
	for len(data) > 0 && l.conns[c.fd] == c {
		buf, start := l.readBufLocked(c)
		k := copy(buf[start:], data[:min(n, len(data))])
		data = data[k:]
		l.consumeLocked(c, buf[:start+k], 1795000000000000000)
	}
	if l.conns[c.fd] == c {
		unix.Close(c.fd)
		if len(c.pending) > 0 {
			if _, size, need, err := nextFrame(c.pending); err != nil || size != 0 || need <= len(c.pending) {
				t.Fatalf("pending %d bytes: size %d need %d err %v", len(c.pending), size, need, err)
			}
		}
	} else if l.lost != 1 || l.perChannel[0] != 0 {
		t.Fatalf("lost %d live %d", l.lost, l.perChannel[0])
	}
	if l.received != l.hist.Count() {
		t.Fatalf("received %d, histogram %d", l.received, l.hist.Count())
	}
}

// The setup of a Pusher connection takes any message without panicking,
// and finishes only on subscription_succeeded after
// connection_established.
func FuzzPusherSetup(f *testing.F) {
	f.Add(pusherproto.AppendConnectionEstablished(nil, "1.2", 120), pusherproto.AppendSubscriptionSucceeded(nil, "bench"))
	f.Add(pusherproto.AppendPing(nil), pusherproto.AppendError(nil, "", 4001, "no app"))
	f.Add([]byte(`{"event":"pusher:connection_established","data":1}`), []byte(`{"event":"pusher_internal:subscription_succeeded","channel":7}`))
	f.Add([]byte(`{"event":`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		step := pusherSetup(pusherSubscribe("bench"))
		send, done, err := step(first)
		if done {
			t.Fatalf("done after one message %q", first)
		}
		if err != nil {
			return
		}
		established := bytes.Equal(send, pusherSubscribe("bench"))
		_, done, err = step(second)
		if done && (err != nil || !established || !bytes.Contains(second, []byte("pusher_internal:subscription_succeeded"))) {
			t.Fatalf("done after %q, %q (err %v)", first, second, err)
		}
	})
}
