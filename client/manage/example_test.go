package manage_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/switchboardhq/switchboard/client/manage"
)

// Publish to a channel with an API key, and tell a gone connection from
// other failures.
func Example() {
	c, err := manage.New("https://ws.example.com/production", manage.Options{APIKey: os.Getenv("SWITCHBOARD_API_KEY")})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	res, err := c.Publish(ctx, "room:lobby", []byte(`{"text":"hello"}`), manage.SendOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reached", res.Recipients)

	err = c.PostToConnection(ctx, "L0SM9cOFvHcCIhw=", []byte("just you"))
	var e *manage.Error
	if errors.As(err, &e) && e.Type == manage.TypeGone {
		fmt.Println("gone; forget it")
	}
}

// Sign with SigV4, as the AWS SDKs do, using a key pair of
// management.accessKeys, and walk every connection.
func ExampleClient_AllConnections() {
	c, err := manage.New("http://127.0.0.1:8080/production", manage.Options{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Region:          "eu-west-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	for conn, err := range c.AllConnections(context.Background(), 1000) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(conn.ID, conn.Identity.SourceIP, conn.ConnectedAt)
	}
}
