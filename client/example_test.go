package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/switchboardhq/switchboard/client"
)

// Subscribe to a channel and publish to it; after a reconnect the
// subscription comes back on its own and the handler gets what it missed.
func Example() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/production", client.Options{
		GetToken: func(ctx context.Context) (string, error) { return "a JWT from your backend", nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, err = c.Subscribe(ctx, "room:lobby", func(p client.Publication) {
		fmt.Printf("%s #%d: %s\n", p.Channel, p.Offset, p.Data)
	}, client.SubscribeOptions{OnEvent: func(e client.SubEvent) {
		if e.Recovering && !e.Recovered {
			log.Printf("missed publications (%s): reload the room", e.Reason)
		}
	}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Publish(ctx, "room:lobby", []byte(`{"text":"hi"}`), client.PublishOptions{}); err != nil {
		log.Fatal(err)
	}
}

// A raw connection, as on API Gateway: frames in, frames out.
func Example_raw() {
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/production", client.Options{
		Mode:      client.ModeRaw,
		OnMessage: func(m client.Message) { fmt.Printf("%s\n", m.Data) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, []byte(`{"action":"sendMessage","message":"hi"}`)); err != nil {
		log.Fatal(err)
	}
}
