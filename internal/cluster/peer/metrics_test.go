package peer

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboardhq/switchboard/internal/cluster"
	"github.com/switchboardhq/switchboard/internal/cluster/clustertest"
)

// The metrics count each forwarded call's outcome and each refusal.
func TestMetrics(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sentinel := errors.New("connection is gone")
	owner := clustertest.NewFakeLocal()
	nodes := startNodes(t, mode{secret: true}, []cluster.Local{clustertest.NewFakeLocal(), owner}, []error{sentinel}, func(o *Options) { o.Metrics = m })
	fw, to, ctx := nodes[0].cli, nodes[1].node, context.Background()

	_ = fw.Post(ctx, to, "prod", "id", nil)
	owner.Fail(sentinel)
	_ = fw.Post(ctx, to, "prod", "id", nil)
	owner.Fail(errors.New("boom"))
	_, _ = fw.Get(ctx, to, "prod", "id")
	if got := rawCall(t, nodes[1], http.MethodPost, Path+"post", postBody(nodes[1]), nil); got != http.StatusUnauthorized {
		t.Fatalf("unsigned: status %d", got)
	}
	nodes[1].stop()
	_ = fw.Delete(ctx, to, "prod", "id")

	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.Forwards.WithLabelValues("post", "ok"), 1},
		{m.Forwards.WithLabelValues("post", "error"), 1},
		{m.Forwards.WithLabelValues("get", "failed"), 1},
		{m.Forwards.WithLabelValues("delete", "gone"), 1},
		{m.Refused.WithLabelValues("unauthorized"), 1},
	} {
		if got := counterValue(t, tc.c); got != tc.want {
			t.Errorf("%v = %v, want %v", tc.c.(prometheus.Metric).Desc(), got, tc.want)
		}
	}
	if n := series(m.ForwardSeconds); n != 3 {
		t.Errorf("ForwardSeconds has %d series, want 3 (post, get, delete)", n)
	}
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	var d dto.Metric
	if err := c.(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
