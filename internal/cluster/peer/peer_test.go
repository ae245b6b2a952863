package peer

import (
	"testing"

	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
)

func TestForwarderSecret(t *testing.T) {
	clustertest.RunForwarder(t, factory(mode{secret: true}))
}

func TestForwarderMTLS(t *testing.T) {
	clustertest.RunForwarder(t, factory(mode{mtls: true}))
}

func TestForwarderSecretAndMTLS(t *testing.T) {
	clustertest.RunForwarder(t, factory(mode{secret: true, mtls: true}))
}
