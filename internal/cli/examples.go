package cli

// Every visible command explains itself with examples in its --help (kong
// shows a command's Help() below its one-line help). TestEveryCommandHasAnExample
// walks the model and fails for a command without one. The text is
// formatted by go/doc: indented lines are shown as they are.

func (serveCmd) Help() string {
	return `Examples:

    switchboard serve
    switchboard serve --config switchboard.yaml
    switchboard serve -c switchboard.yaml --listen 127.0.0.1:9000`
}

func (validateCmd) Help() string {
	return `Example:

    switchboard validate switchboard.yaml`
}

func (benchCmd) Help() string {
	return `Examples:

    switchboard bench idle -n 10000
    switchboard bench fanout -n 5000 --rate 10,100
    switchboard bench storm --serve-config storm.yaml -n 10000 --jitter none`
}

func (benchIdleCmd) Help() string {
	return `Example:

    switchboard bench idle --url ws://127.0.0.1:8080/production -n 10000`
}

func (benchFanoutCmd) Help() string {
	return `Examples:

    switchboard bench fanout -n 5000 --rate 10,100,1000 --duration 10s
    switchboard bench fanout --url ws://n1:8080/production,ws://n2:8080/production --publish-round-robin`
}

func (benchForwardCmd) Help() string {
	return `Example:

    switchboard bench forward --owner ws://n1:8080/production --other ws://n2:8080/production`
}

func (benchManageCmd) Help() string {
	return `Example:

    switchboard bench manage --url http://127.0.0.1:8080/production --api-key "$KEY" --pid "$(pgrep -n switchboard)"`
}

func (benchStormCmd) Help() string {
	return `Examples (storm.yaml: a configuration with a fixed listen port; the storm starts and restarts that server itself):

    switchboard bench storm --serve-config storm.yaml -n 10000 --restart kill --jitter full
    switchboard bench storm --serve-config storm.yaml -n 2000 --restart term --jitter none --max-delay 10s --json`
}

func (clientCmd) Help() string {
	return `Examples:

    switchboard client ws://127.0.0.1:8080/production -s room:lobby
    switchboard client --raw ws://127.0.0.1:8080/production`
}

func (versionCmd) Help() string {
	return `Example:

    switchboard version`
}

func (helpCmd) Help() string {
	return `Example:

    switchboard help connections list`
}

func (sendCmd) Help() string {
	return `The credential is --api-key (SWITCHBOARD_API_KEY) or --access-key and
--secret-key (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); with neither,
only a server in development mode (management.allowLoopback) answers, and
only on loopback. The endpoint is --endpoint or SWITCHBOARD_ENDPOINT.

Examples:

    switchboard send --channel room:lobby '{"text":"hello"}'
    switchboard send --connection L0SM9cOFvHcCIhw= 'just you'
    switchboard send --user alice --api-key "$KEY" 'for every tab of alice'
    printf '%s' "$MSG" | switchboard send --all --endpoint https://ws.example.com/production
    switchboard send --channel room:lobby -o json < message.json`
}

func (connectionsCmd) Help() string {
	return `Examples:

    switchboard connections list
    switchboard connections get L0SM9cOFvHcCIhw=
    switchboard connections kick L0SM9cOFvHcCIhw=`
}

func (connectionsListCmd) Help() string {
	return `A table shows one page; the next page's cursor is printed on stderr.

Examples:

    switchboard connections list
    switchboard connections list --all -o json
    switchboard connections list --limit 10 --cursor "$CURSOR"`
}

func (connectionsGetCmd) Help() string {
	return `With -o json, one id prints an object and several an array.

Example:

    switchboard connections get L0SM9cOFvHcCIhw= -o json`
}

func (connectionsKickCmd) Help() string {
	return `Example:

    switchboard connections kick L0SM9cOFvHcCIhw= M1TN0dPGwIdDJix=`
}

func (channelsCmd) Help() string {
	return `Examples:

    switchboard channels info room:lobby
    switchboard channels presence room:lobby --all
    switchboard channels history room:lobby --since 41 -o json`
}

func (channelsInfoCmd) Help() string {
	return `Example:

    switchboard channels info room:lobby -o json`
}

func (channelsPresenceCmd) Help() string {
	return `Examples:

    switchboard channels presence room:lobby
    switchboard channels presence room:lobby --all -o json`
}

func (channelsHistoryCmd) Help() string {
	return `A table shows each publication's offset, time and data (b64: and
base64 for bytes that are not UTF-8); the stream's epoch and offset go to
stderr.

Examples:

    switchboard channels history room:lobby
    switchboard channels history room:lobby --since 41 --epoch "$EPOCH" --limit 10 -o json`
}

func (completionCmd) Help() string {
	return `Examples:

    source <(switchboard completion bash)
    source <(switchboard completion zsh)
    switchboard completion fish | source
    switchboard completion bash > /etc/bash_completion.d/switchboard`
}
