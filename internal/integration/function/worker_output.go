package function

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
)

// maxLineBytes caps one logged line of worker output; the rest of a
// longer line is dropped and the record marked truncated.
const maxLineBytes = 16 << 10

// logOutput logs r (a worker's stdout or stderr) line by line at level,
// with the worker and the invocation it is running, until r ends.
func (f *Function) logOutput(w *worker, r io.Reader, level slog.Level) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	skipping := false // dropping the rest of a truncated line
	for {
		line, err := br.ReadSlice('\n')
		full := err == nil
		if skipping {
			skipping = !full
			if full || errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
		} else if len(line) > 0 {
			truncated := errors.Is(err, bufio.ErrBufferFull)
			skipping = truncated
			f.logLine(w, level, line, truncated)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (f *Function) logLine(w *worker, level slog.Level, line []byte, truncated bool) {
	ctx := context.Background()
	if !f.log.Enabled(ctx, level) {
		return
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 && !truncated {
		return
	}
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.Int("worker", w.id))
	if inv := w.current.Load(); inv != nil {
		attrs = append(attrs, slog.String("requestId", inv.eventID), slog.String("awsRequestId", inv.id))
	}
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	f.log.LogAttrs(ctx, level, string(line), attrs...)
}
