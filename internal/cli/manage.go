package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/client/manage"
	"github.com/switchboardhq/switchboard/internal/buildinfo"
)

// apiFlags are the flags of every command that calls the management API:
// where, with which credential, and how to print the answer.
type apiFlags struct {
	Endpoint  string        `default:"http://127.0.0.1:8080/production" env:"SWITCHBOARD_ENDPOINT" help:"The stage's management endpoint, http(s)://host/{stage} (ws:// and wss:// are taken as http:// and https://); default ${default}." placeholder:"URL"`
	APIKey    string        `name:"api-key" env:"SWITCHBOARD_API_KEY" help:"A key of management.apiKeys, sent as a bearer token. Wins over --access-key." placeholder:"KEY"`
	AccessKey string        `name:"access-key" env:"AWS_ACCESS_KEY_ID" help:"The id of a key pair of management.accessKeys: requests are signed with SigV4 (service execute-api), as the AWS SDKs sign them." placeholder:"ID"`
	SecretKey string        `name:"secret-key" env:"AWS_SECRET_ACCESS_KEY" help:"The secret of --access-key." placeholder:"SECRET"`
	Region    string        `default:"us-east-1" env:"AWS_REGION" help:"The region of the signature (Switchboard accepts any)."`
	Output    string        `short:"o" enum:"table,json" default:"table" help:"Print the answer as aligned columns (table) or JSON (json)." placeholder:"table|json"`
	Timeout   time.Duration `default:"30s" help:"Bound on the whole command."`
}

// client makes the management client of the flags. An API key wins over
// an access key pair: AWS_ACCESS_KEY_ID is often set for other tools.
func (f *apiFlags) client() (*manage.Client, error) {
	o := manage.Options{Region: f.Region, UserAgent: "switchboard-cli/" + buildinfo.Get().Version}
	switch {
	case f.APIKey != "":
		o.APIKey = f.APIKey
	case f.AccessKey != "" && f.SecretKey != "":
		o.AccessKeyID, o.SecretAccessKey = f.AccessKey, f.SecretKey
	case f.AccessKey != "":
		return nil, usageError("--access-key (or AWS_ACCESS_KEY_ID) needs --secret-key (or AWS_SECRET_ACCESS_KEY)")
	case f.SecretKey != "":
		return nil, usageError("--secret-key (or AWS_SECRET_ACCESS_KEY) needs --access-key (or AWS_ACCESS_KEY_ID)")
	}
	c, err := manage.New(f.Endpoint, o)
	if err != nil {
		return nil, usageError("--endpoint: %v", err)
	}
	return c, nil
}

// usageError is a mistake on the command line: exit status 2.
func usageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// callError explains a failed call, exit status 1: the AWS error type and
// message as the server sent them, with a hint for refused credentials;
// for a server that could not be reached, where the command looked.
func (f *apiFlags) callError(err error) error {
	var ae *manage.Error
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden && strings.HasPrefix(ae.Message, "Missing Authentication Token"):
		err = fmt.Errorf("%w\n(give --api-key or SWITCHBOARD_API_KEY, or --access-key and --secret-key)", err)
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Message == "Forbidden":
		err = fmt.Errorf("%w\n(is the stage of --endpoint %s served?)", err, f.Endpoint)
	case errors.As(err, &ae):
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w (--timeout %s)", err, f.Timeout)
	default:
		err = fmt.Errorf("%w\n(is switchboard serving at --endpoint %s? set --endpoint or SWITCHBOARD_ENDPOINT)", err, f.Endpoint)
	}
	return &ExitError{Code: 1, Err: err}
}

// call runs fn with the flags' client, bounded by --timeout, and turns
// its error into the command's.
func (f *apiFlags) call(ctx context.Context, fn func(context.Context, *manage.Client) error) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	if err := fn(ctx, c); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return err
		}
		return f.callError(err)
	}
	return nil
}

// print writes v as JSON, or the table that table returns.
func (f *apiFlags) print(w io.Writer, v any, table func() ([]string, [][]string)) error {
	if f.Output == outputJSON {
		return writeJSON(w, v)
	}
	h, rows := table()
	return writeTable(w, h, rows)
}

// maxStdinMessage bounds a message read from stdin: well above any
// stage's maxMessageBytes that makes sense, which the server enforces.
const maxStdinMessage = 64 << 20

type sendCmd struct {
	Connection string `xor:"target" help:"Send to this connection (POST @connections/{id})." placeholder:"ID"`
	Channel    string `xor:"target" help:"Publish to this channel (POST @channels/{channel}); kept in its history if it has one." placeholder:"CHANNEL"`
	User       string `xor:"target" help:"Send to every connection of this user (POST @users/{user})." placeholder:"USER"`
	All        bool   `xor:"target" help:"Send to every connection of the stage (POST @broadcast)."`
	Exclude    string `help:"With --channel or --all: leave this connection out, such as the sender's." placeholder:"ID"`
	Message    string `arg:"" optional:"" help:"The message, sent as is. Without it, or with -, it is read from stdin, every byte (echo adds a newline; printf does not)." placeholder:"MESSAGE"`
	apiFlags   `embed:""`
}

// Validate names the missing target; kong checks that at most one is
// given.
func (s *sendCmd) Validate() error {
	if s.Connection == "" && s.Channel == "" && s.User == "" && !s.All {
		return errors.New("give a target: --connection ID, --channel CHANNEL, --user USER or --all")
	}
	if s.Exclude != "" && s.Channel == "" && !s.All {
		return errors.New("--exclude applies to --channel and --all only")
	}
	return nil
}

// sendResult is what send prints as JSON: the target and what it
// reached.
type sendResult struct {
	Connection string `json:"connectionId,omitempty"`
	Channel    string `json:"channel,omitempty"`
	User       string `json:"user,omitempty"`
	All        bool   `json:"all,omitempty"`
	Recipients int    `json:"recipients"`
	*manage.Position
}

func (s *sendCmd) Run(ctx context.Context, e *env) error {
	data, err := s.message(e.stdin, maxStdinMessage)
	if err != nil {
		return err
	}
	return s.call(ctx, func(ctx context.Context, c *manage.Client) error {
		res := sendResult{Connection: s.Connection, Channel: s.Channel, User: s.User, All: s.All}
		switch {
		case s.Connection != "":
			err = c.PostToConnection(ctx, s.Connection, data)
			res.Recipients = 1
		case s.Channel != "":
			var p manage.PublishResult
			p, err = c.Publish(ctx, s.Channel, data, manage.SendOptions{Exclude: s.Exclude})
			res.Recipients, res.Position = p.Recipients, p.Position
		case s.User != "":
			res.Recipients, err = c.PostToUser(ctx, s.User, data)
		default:
			res.Recipients, err = c.Broadcast(ctx, data, manage.SendOptions{Exclude: s.Exclude})
		}
		if err != nil {
			return err
		}
		return s.print(e.stdout, res, func() ([]string, [][]string) {
			if res.Position != nil {
				return []string{"RECIPIENTS", "EPOCH", "OFFSET"}, [][]string{{fmt.Sprint(res.Recipients), res.Epoch, fmt.Sprint(res.Offset)}}
			}
			return []string{"RECIPIENTS"}, [][]string{{fmt.Sprint(res.Recipients)}}
		})
	})
}

// message returns the argument, or stdin's bytes (at most limit) when it
// is absent or -.
func (s *sendCmd) message(stdin io.Reader, limit int) ([]byte, error) {
	if s.Message != "" && s.Message != "-" {
		return []byte(s.Message), nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, usageError("no message: give it as an argument, or pipe it on stdin (printf '%%s' \"$MSG\" | switchboard send ...)")
		}
	}
	data, err := io.ReadAll(io.LimitReader(stdin, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the message from stdin: %w", err)
	}
	if len(data) > limit {
		return nil, usageError("the message on stdin is larger than %d bytes", limit)
	}
	return data, nil
}

type connectionsCmd struct {
	List connectionsListCmd `cmd:"" help:"List the stage's connections, oldest first (GET @connections)."`
	Get  connectionsGetCmd  `cmd:"" help:"Describe connections: when they connected, from where, last active (GET @connections/{id})."`
	Kick connectionsKickCmd `cmd:"" help:"Close connections (1000); each one's $disconnect follows (DELETE @connections/{id})."`
}

// pageFlags page through a list.
type pageFlags struct {
	Limit  int    `default:"100" help:"Entries per page, 1 to 1000." placeholder:"N"`
	Cursor string `help:"Start after this page: the nextCursor a previous page printed." placeholder:"CURSOR"`
	All    bool   `help:"Follow every page to the end (--limit per request)."`
}

func (p *pageFlags) validate() error {
	if p.Limit < 1 || p.Limit > 1000 {
		return fmt.Errorf("--limit %d: give 1 to 1000", p.Limit)
	}
	if p.All && p.Cursor != "" {
		return errors.New("--all starts from the first page: drop --cursor")
	}
	return nil
}

// moreNote tells on stderr how to get the next page of a table.
func moreNote(w io.Writer, next string) {
	if next != "" {
		fmt.Fprintf(w, "more: --cursor %s (or --all for every page)\n", next)
	}
}

var connectionHeader = []string{"CONNECTION ID", "CONNECTED AT", "LAST ACTIVE AT", "SOURCE IP", "USER AGENT"}

func connectionRow(c manage.Connection) []string {
	return []string{c.ID, timeCell(c.ConnectedAt), timeCell(c.LastActiveAt), c.Identity.SourceIP, c.Identity.UserAgent}
}

type connectionsListCmd struct {
	pageFlags `embed:""`
	apiFlags  `embed:""`
}

func (l *connectionsListCmd) Validate() error { return l.validate() }

func (l *connectionsListCmd) Run(ctx context.Context, e *env) error {
	return l.call(ctx, func(ctx context.Context, c *manage.Client) error {
		var page manage.ConnectionPage
		if l.All {
			page.Connections = []manage.Connection{}
			for conn, err := range c.AllConnections(ctx, l.Limit) {
				if err != nil {
					return err
				}
				page.Connections = append(page.Connections, conn)
			}
		} else {
			var err error
			if page, err = c.ListConnections(ctx, manage.Page{Limit: l.Limit, Cursor: l.Cursor}); err != nil {
				return err
			}
		}
		err := l.print(e.stdout, page, func() ([]string, [][]string) {
			rows := make([][]string, 0, len(page.Connections))
			for _, conn := range page.Connections {
				rows = append(rows, connectionRow(conn))
			}
			return connectionHeader, rows
		})
		if l.Output == outputTable {
			moreNote(e.stderr, page.NextCursor)
		}
		return err
	})
}

type connectionsGetCmd struct {
	IDs      []string `arg:"" name:"id" help:"Connection ids." placeholder:"ID"`
	apiFlags `embed:""`
}

func (g *connectionsGetCmd) Run(ctx context.Context, e *env) error {
	return g.call(ctx, func(ctx context.Context, c *manage.Client) error {
		conns := make([]manage.Connection, 0, len(g.IDs))
		for _, id := range g.IDs {
			conn, err := c.GetConnection(ctx, id)
			if err != nil {
				return fmt.Errorf("connection %s: %w", id, err)
			}
			conns = append(conns, conn)
		}
		var v any = conns
		if len(conns) == 1 {
			v = conns[0]
		}
		return g.print(e.stdout, v, func() ([]string, [][]string) {
			rows := make([][]string, 0, len(conns))
			for _, conn := range conns {
				rows = append(rows, connectionRow(conn))
			}
			return connectionHeader, rows
		})
	})
}

type connectionsKickCmd struct {
	IDs      []string `arg:"" name:"id" help:"Connection ids." placeholder:"ID"`
	apiFlags `embed:""`
}

func (k *connectionsKickCmd) Run(ctx context.Context, e *env) error {
	return k.call(ctx, func(ctx context.Context, c *manage.Client) error {
		closed := make([]string, 0, len(k.IDs))
		for _, id := range k.IDs {
			if err := c.DeleteConnection(ctx, id); err != nil {
				return fmt.Errorf("connection %s: %w", id, err)
			}
			closed = append(closed, id)
		}
		return k.print(e.stdout, map[string][]string{"closed": closed}, func() ([]string, [][]string) {
			rows := make([][]string, 0, len(closed))
			for _, id := range closed {
				rows = append(rows, []string{id})
			}
			return []string{"CLOSED"}, rows
		})
	})
}

type channelsCmd struct {
	Info     channelsInfoCmd     `cmd:"" help:"A channel's member count and stream position (GET @channels/{channel})."`
	Presence channelsPresenceCmd `cmd:"" help:"A channel's members: connection, user and info (GET @channels/{channel})."`
	History  channelsHistoryCmd  `cmd:"" help:"A channel's kept publications, oldest first (GET @channels/{channel}/history)."`
}

// channelInfo is what channels info prints as JSON.
type channelInfo struct {
	Channel  string `json:"channel"`
	Members  int    `json:"members"`
	Presence bool   `json:"presence"`
	*manage.Position
}

type channelsInfoCmd struct {
	Channel  string `arg:"" help:"The channel." placeholder:"CHANNEL"`
	apiFlags `embed:""`
}

func (i *channelsInfoCmd) Run(ctx context.Context, e *env) error {
	return i.call(ctx, func(ctx context.Context, c *manage.Client) error {
		ch, err := c.Channel(ctx, i.Channel, manage.Page{Limit: 1})
		if err != nil {
			return err
		}
		v := channelInfo{Channel: ch.Channel, Members: ch.Members, Presence: ch.Presence != nil, Position: ch.Position}
		return i.print(e.stdout, v, func() ([]string, [][]string) {
			row := []string{v.Channel, fmt.Sprint(v.Members), onOff(v.Presence), "", ""}
			if v.Position != nil {
				row[3], row[4] = v.Epoch, fmt.Sprint(v.Offset)
			}
			return []string{"CHANNEL", "MEMBERS", "PRESENCE", "EPOCH", "OFFSET"}, [][]string{row}
		})
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

type channelsPresenceCmd struct {
	Channel   string `arg:"" help:"The channel." placeholder:"CHANNEL"`
	pageFlags `embed:""`
	apiFlags  `embed:""`
}

func (p *channelsPresenceCmd) Validate() error { return p.validate() }

func (p *channelsPresenceCmd) Run(ctx context.Context, e *env) error {
	return p.call(ctx, func(ctx context.Context, c *manage.Client) error {
		ch, err := c.Channel(ctx, p.Channel, manage.Page{Limit: p.Limit, Cursor: p.Cursor})
		if err != nil {
			return err
		}
		if ch.Presence == nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("channel %s: its namespace keeps no presence (channels.namespaces[].presence); it has %d members", p.Channel, ch.Members)}
		}
		for p.All && ch.NextCursor != "" {
			next, err := c.Channel(ctx, p.Channel, manage.Page{Limit: p.Limit, Cursor: ch.NextCursor})
			if err != nil {
				return err
			}
			ch.Presence, ch.NextCursor = append(ch.Presence, next.Presence...), next.NextCursor
		}
		err = p.print(e.stdout, ch, func() ([]string, [][]string) {
			rows := make([][]string, 0, len(ch.Presence))
			for _, m := range ch.Presence {
				rows = append(rows, []string{m.ConnectionID, m.User, string(m.Info)})
			}
			return []string{"CONNECTION ID", "USER", "INFO"}, rows
		})
		if p.Output == outputTable {
			moreNote(e.stderr, ch.NextCursor)
		}
		return err
	})
}

type channelsHistoryCmd struct {
	Channel  string `arg:"" help:"The channel." placeholder:"CHANNEL"`
	Since    uint64 `help:"Read after this offset (the last one seen); 0 reads from the oldest kept." placeholder:"OFFSET"`
	Epoch    string `help:"The epoch --since belongs to: if the stream has another, the command fails (ConflictException) instead of reading a new stream." placeholder:"EPOCH"`
	Limit    int    `default:"100" help:"Publications to read, 1 to 1000." placeholder:"N"`
	apiFlags `embed:""`
}

func (h *channelsHistoryCmd) Validate() error {
	if h.Limit < 1 || h.Limit > 1000 {
		return fmt.Errorf("--limit %d: give 1 to 1000", h.Limit)
	}
	return nil
}

func (h *channelsHistoryCmd) Run(ctx context.Context, e *env) error {
	return h.call(ctx, func(ctx context.Context, c *manage.Client) error {
		hist, err := c.History(ctx, h.Channel, manage.HistoryQuery{Since: h.Since, Epoch: h.Epoch, Limit: h.Limit})
		if err != nil {
			return err
		}
		if h.Output == outputJSON {
			return writeJSON(e.stdout, hist)
		}
		rows := make([][]string, 0, len(hist.Publications))
		for _, p := range hist.Publications {
			rows = append(rows, []string{fmt.Sprint(p.Offset), timeCell(p.Time), dataCell(p.Data)})
		}
		if err := writeTable(e.stdout, []string{"OFFSET", "TIME", "DATA"}, rows); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "stream: epoch %s, offset %d\n", hist.Epoch, hist.Offset)
		if hist.Truncated {
			fmt.Fprintln(e.stderr, "truncated: publications after --since were dropped from the history (size or ttl) before they could be read")
		}
		return nil
	})
}
