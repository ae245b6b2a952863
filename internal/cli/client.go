package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/client"
)

// clientCmd is `switchboard client`: an interactive client on the public
// client package (wscat with reconnects). Lines read are sent; frames
// received are printed.
type clientCmd struct {
	URL       string   `arg:"" help:"The stage to connect to: ws://127.0.0.1:8080/production."`
	Raw       bool     `help:"A raw connection (AWS-style): every line is sent as one frame. Default: switchboard.v1, where lines starting with / are commands (/sub, /unsub, /pub, /presence, /ping, /quit) and others are sent as protocol messages."`
	Subscribe []string `short:"s" help:"Channels to subscribe to at start (switchboard.v1)."`
	Token     string   `env:"SWITCHBOARD_TOKEN" help:"A JWT sent as Authorization: Bearer at every connect (the API's auth.jwt)."`
	Header    []string `short:"H" sep:"none" help:"A handshake header, Name: value (repeatable)."`
}

// lockedWriter serializes the command's output: callbacks and the input
// loop both print.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", a...)
}

func (cc *clientCmd) Run(ctx context.Context, e *env) error {
	out := &lockedWriter{w: e.stdout}
	opts := client.Options{Header: http.Header{}}
	if cc.Raw {
		opts.Mode = client.ModeRaw
	}
	for _, h := range cc.Header {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return &ExitError{Code: 2, Err: fmt.Errorf("--header %q: want Name: value", h)}
		}
		opts.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if cc.Token != "" {
		tok := cc.Token
		opts.GetToken = func(context.Context) (string, error) { return tok, nil }
	}
	opts.OnMessage = func(m client.Message) {
		if m.Binary {
			out.printf("< (binary, %d bytes) %x", len(m.Data), m.Data)
			return
		}
		out.printf("< %s", m.Data)
	}
	opts.OnPublication = func(p client.Publication) { out.printf("%s", formatPub(p)) }
	opts.OnState = func(s client.StateEvent) {
		switch {
		case s.State == client.StateConnected && s.ConnectionID != "":
			out.printf("* connected %s", s.ConnectionID)
		case s.State == client.StateConnected:
			out.printf("* connected")
		case s.Err != nil:
			out.printf("* %s: %v", s.State, s.Err)
		default:
			out.printf("* %s", s.State)
		}
	}
	// The client logs reconnects at info; the command prints states.
	opts.Logger = slog.New(slog.DiscardHandler)
	c, err := client.Dial(ctx, cc.URL, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	subs := map[string]*client.Subscription{}
	for _, ch := range cc.Subscribe {
		if err := cc.sub(ctx, c, out, subs, ch); err != nil {
			return err
		}
	}

	lines := make(chan string)
	readErr := make(chan error, 1)
	// The reader may stay blocked on a terminal after Run returns; the
	// process is exiting then.
	go func() {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case err := <-readErr:
			return err // end of input: close
		case line := <-lines:
			if quit := cc.line(ctx, c, out, subs, line); quit {
				return nil
			}
		}
	}
}

// line acts on one input line; it reports /quit.
func (cc *clientCmd) line(ctx context.Context, c *client.Client, out *lockedWriter, subs map[string]*client.Subscription, line string) bool {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if cc.Raw || !strings.HasPrefix(line, "/") {
		if strings.TrimSpace(line) == "" {
			return false
		}
		if err := c.Send(rctx, []byte(line)); err != nil {
			out.printf("! %v", err)
		}
		return false
	}
	cmd, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch cmd {
	case "/quit":
		return true
	case "/ping":
		start := time.Now()
		if err := c.Ping(rctx); err != nil {
			out.printf("! %v", err)
		} else {
			out.printf("> pong in %v", time.Since(start).Round(time.Microsecond))
		}
	case "/sub":
		if err := cc.sub(rctx, c, out, subs, rest); err != nil {
			out.printf("! %v", err)
		}
	case "/unsub":
		s := subs[rest]
		if s == nil {
			out.printf("! not subscribed to %q", rest)
			break
		}
		delete(subs, rest)
		if err := s.Unsubscribe(rctx); err != nil {
			out.printf("! %v", err)
		}
	case "/pub":
		ch, data, _ := strings.Cut(rest, " ")
		r, err := c.Publish(rctx, ch, []byte(data), client.PublishOptions{})
		if err != nil {
			out.printf("! %v", err)
			break
		}
		if r.Epoch != "" {
			out.printf("> published %s@%d to %d", r.Epoch, r.Offset, r.Recipients)
		} else {
			out.printf("> published to %d", r.Recipients)
		}
	case "/presence":
		p, err := c.Presence(rctx, rest)
		if err != nil {
			out.printf("! %v", err)
			break
		}
		out.printf("> %d members", p.Members)
		for _, m := range p.Presence {
			out.printf(">   %s %s %s", m.ConnectionID, m.User, m.Info)
		}
	default:
		out.printf("! unknown command %s: /sub CH, /unsub CH, /pub CH DATA, /presence CH, /ping, /quit", cmd)
	}
	return false
}

func (cc *clientCmd) sub(ctx context.Context, c *client.Client, out *lockedWriter, subs map[string]*client.Subscription, ch string) error {
	if ch == "" {
		return errors.New("/sub needs a channel")
	}
	s, err := c.Subscribe(ctx, ch, func(p client.Publication) { out.printf("%s", formatPub(p)) }, client.SubscribeOptions{
		OnEvent: func(e client.SubEvent) {
			switch {
			case e.State == client.SubSubscribed && e.Recovering && e.Recovered:
				out.printf("* %s subscribed, recovered %d missed", ch, e.Missed)
			case e.State == client.SubSubscribed && e.Recovering:
				out.printf("* %s subscribed, NOT recovered (%s): publications were missed", ch, e.Reason)
			case e.Err != nil:
				out.printf("* %s %s: %v", ch, e.State, e.Err)
			case e.Reason != "":
				out.printf("* %s %s: %s", ch, e.State, e.Reason)
			default:
				out.printf("* %s %s", ch, e.State)
			}
		},
	})
	if err != nil {
		return err
	}
	subs[ch] = s
	return nil
}

func formatPub(p client.Publication) string {
	pos := ""
	if p.Epoch != "" {
		pos = fmt.Sprintf(" %s@%d", p.Epoch, p.Offset)
	}
	return fmt.Sprintf("%s%s: %s", p.Channel, pos, p.Data)
}
