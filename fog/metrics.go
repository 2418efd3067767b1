package fog

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. Label values come only
// from fixed sets (routes, causes, status codes) and the names of the
// served models, never from request text, so their number is bounded.
type metrics struct {
	requests *prometheus.CounterVec   // route, model, code
	errors   *prometheus.CounterVec   // cause
	latency  *prometheus.HistogramVec // route, seconds
	inFlight prometheus.Gauge
}

// Routes, the "route" label.
const (
	routeInfer   = "infer"
	routeModels  = "models"
	routeMetrics = "metrics"
	routeHealth  = "healthz"
	routeOther   = "other"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "splitnas", Subsystem: "fog", Name: "requests_total",
			Help: "HTTP requests answered, by route, model (empty outside inference or for an unknown model) and status code.",
		}, []string{"route", "model", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "splitnas", Subsystem: "fog", Name: "errors_total",
			Help: "Error responses by cause (bad_length, bad_dtype, bad_split, not_finite, bad_json, unauthorized, unknown_model, not_found, method, too_large, bad_content_type, internal).",
		}, []string{"cause"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "splitnas", Subsystem: "fog", Name: "request_duration_seconds",
			Help:    "Time from the request's headers to the end of the handler, in seconds, by route.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18), // 50 µs … 6.6 s
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "splitnas", Subsystem: "fog", Name: "in_flight_requests",
			Help: "Requests being handled now.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.errors, m.latency, m.inFlight} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("fog: metrics: the registry already holds splitnas_fog collectors (one server per registry): %w", err)
			}
			return nil, fmt.Errorf("fog: metrics: %w", err)
		}
	}
	// Every cause at 0, so a dashboard sees the series before the first error.
	for _, c := range []Cause{CauseBadLength, CauseBadDtype, CauseBadSplit, CauseNotFinite, CauseBadJSON,
		CauseUnauthorized, CauseUnknownModel, CauseNotFound, CauseMethod, CauseTooLarge, CauseBadContentType, CauseInternal} {
		m.errors.WithLabelValues(string(c))
	}
	return m, nil
}
