package config

import (
	"errors"
	"strings"
	"testing"
)

func setLimits(f func(*Limits)) func(*Config) {
	return func(c *Config) { f(&api(c).Limits) }
}

// TestValidateAdmissionLimits breaks one rule of the connection and
// message limits per case and expects exactly one problem, on the given
// field, whose message contains the fix.
func TestValidateAdmissionLimits(t *testing.T) {
	const l = "apis[0].limits"
	tests := []struct {
		name   string
		break_ func(*Config)
		field  string
		fix    string
	}{
		{"connectionsPerSecond negative", setLimits(func(l *Limits) { l.ConnectionsPerSecond = -1 }), l + ".connectionsPerSecond", "-1 is out of range; use a number from 0 to 1000000"},
		{"connectionsPerSecond large", setLimits(func(l *Limits) { l.ConnectionsPerSecond = 1_000_001 }), l + ".connectionsPerSecond", "1000001 is out of range"},
		{"connectionBurst below the rate", setLimits(func(l *Limits) { l.ConnectionsPerSecond, l.ConnectionBurst = 100, 50 }), l + ".connectionBurst",
			"50 is less than connectionsPerSecond (100); a burst is at least one second's worth at the rate: raise it to at least 100, or leave it out"},
		{"connectionBurst without a rate", setLimits(func(l *Limits) { l.ConnectionBurst = 50 }), l + ".connectionBurst",
			"has no effect without connectionsPerSecond; set connectionsPerSecond, or remove connectionBurst"},
		{"connectionBurst negative", setLimits(func(l *Limits) { l.ConnectionsPerSecond, l.ConnectionBurst = 10, -1 }), l + ".connectionBurst", "-1 is out of range"},
		{"connectionBurst large", setLimits(func(l *Limits) { l.ConnectionsPerSecond, l.ConnectionBurst = 10, 1_000_001 }), l + ".connectionBurst", "1000001 is out of range"},
		{"connectionsPerSecondPerIP negative", setLimits(func(l *Limits) { l.ConnectionsPerSecondPerIP = -5 }), l + ".connectionsPerSecondPerIP", "-5 is out of range; use a number from 0 to 1000000"},
		{"maxConnections negative", setLimits(func(l *Limits) { l.MaxConnections = -1 }), l + ".maxConnections", "-1 is out of range; use a number from 0 to 10000000"},
		{"maxConnectionsPerIP large", setLimits(func(l *Limits) { l.MaxConnectionsPerIP = 10_000_001 }), l + ".maxConnectionsPerIP", "10000001 is out of range"},
		{"maxConnectionsPerUser negative", setLimits(func(l *Limits) { l.MaxConnectionsPerUser = -1 }), l + ".maxConnectionsPerUser", "-1 is out of range"},
		{"maxConnectionsPerIP above the total", setLimits(func(l *Limits) { l.MaxConnections, l.MaxConnectionsPerIP = 100, 101 }), l + ".maxConnectionsPerIP",
			"101 is more than maxConnections (100), the API's total, so it could never be reached; lower it to at most 100, or raise maxConnections"},
		{"maxConnectionsPerUser above the total", setLimits(func(l *Limits) { l.MaxConnections, l.MaxConnectionsPerUser = 100, 200 }), l + ".maxConnectionsPerUser",
			"200 is more than maxConnections (100)"},
		{"messagesPerSecond negative", setLimits(func(l *Limits) { l.MessagesPerSecond = -1 }), l + ".messagesPerSecond", "-1 is out of range"},
		{"messageBurst below the rate", setLimits(func(l *Limits) { l.MessagesPerSecond, l.MessageBurst = 20, 10 }), l + ".messageBurst",
			"10 is less than messagesPerSecond (20)"},
		{"messageBurst without a rate", setLimits(func(l *Limits) { l.MessageBurst = 10 }), l + ".messageBurst", "has no effect without messagesPerSecond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			tt.break_(c)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			p := ve.Problems[0]
			if p.Field != tt.field || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got  %s: %s\nwant %s: ...%s...", p.Field, p.Message, tt.field, tt.fix)
			}
		})
	}
}

func TestValidateAdmissionLimitsAccepts(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Limits)
	}{
		{"rates without bursts", func(l *Limits) { l.ConnectionsPerSecond, l.MessagesPerSecond = 100, 20 }},
		{"bursts equal to the rates", func(l *Limits) {
			l.ConnectionsPerSecond, l.ConnectionBurst, l.MessagesPerSecond, l.MessageBurst = 100, 100, 20, 20
		}},
		{"per IP without a total", func(l *Limits) { l.MaxConnectionsPerIP, l.MaxConnectionsPerUser = 50, 10 }},
		{"per IP equal to the total", func(l *Limits) { l.MaxConnections, l.MaxConnectionsPerIP, l.MaxConnectionsPerUser = 50, 50, 50 }},
		{"upper bounds", func(l *Limits) {
			l.ConnectionsPerSecond, l.ConnectionBurst, l.ConnectionsPerSecondPerIP = 1_000_000, 1_000_000, 1_000_000
			l.MaxConnections, l.MaxConnectionsPerIP, l.MaxConnectionsPerUser = 10_000_000, 10_000_000, 10_000_000
			l.MessagesPerSecond, l.MessageBurst = 1_000_000, 1_000_000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			setLimits(tt.set)(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestApplyDefaultsBursts checks that a burst defaults to its rate, and
// stays unset without one.
func TestApplyDefaultsBursts(t *testing.T) {
	c := &Config{APIs: []API{
		{Limits: Limits{ConnectionsPerSecond: 100, MessagesPerSecond: 20}},
		{Limits: Limits{ConnectionsPerSecond: 100, ConnectionBurst: 300, MessagesPerSecond: 20, MessageBurst: 50}},
		{Limits: Limits{MessageBurst: 7}},
	}}
	c.ApplyDefaults()
	for i, want := range [][4]int{{100, 100, 20, 20}, {100, 300, 20, 50}, {0, 0, 0, 7}} {
		l := c.APIs[i].Limits
		if got := [4]int{l.ConnectionsPerSecond, l.ConnectionBurst, l.MessagesPerSecond, l.MessageBurst}; got != want {
			t.Errorf("apis[%d]: rate, burst, rate, burst = %v, want %v", i, got, want)
		}
	}
}
