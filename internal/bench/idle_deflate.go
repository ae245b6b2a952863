package bench

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"time"
)

// deflateOffer is what Chromium and Firefox offer.
const deflateOffer = "permessage-deflate; client_max_window_bits"

// idleMessage is about 1 KiB of JSON for a route the seed configuration
// does not have (the server answers with a short error frame).
var idleMessage = `{"action":"bench","text":"` + strings.Repeat("idle connection with compression ", 31) + `"}`

// plainFrame is idleMessage as a masked client text frame.
var plainFrame = sync.OnceValue(func() []byte {
	f := []byte{0x81, 0x80 | 126}
	f = binary.BigEndian.AppendUint16(f, uint16(len(idleMessage)))
	f = append(f, 0, 0, 0, 0) // zero mask: the payload goes as is
	return append(f, idleMessage...)
})

// deflatedFrame is idleMessage as a masked, compressed client text frame.
var deflatedFrame = sync.OnceValue(func() []byte {
	msg := idleMessage
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write([]byte(msg))
	_ = w.Flush()
	z := bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
	f := []byte{0x80 | 0x40 | 0x1} // FIN, RSV1 (compressed), text
	if len(z) <= 125 {
		f = append(f, 0x80|byte(len(z)))
	} else {
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(len(z)))
	}
	f = append(f, 0, 0, 0, 0) // zero mask: the payload goes as is
	return append(f, z...)
})

// sendIdleMessage sends idleMessage on c, compressed or not.
func sendIdleMessage(c net.Conn, deflate bool) error {
	f := plainFrame()
	if deflate {
		f = deflatedFrame()
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Write(f)
	_ = c.SetWriteDeadline(time.Time{})
	return err
}
