package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// PrometheusOptions configures a Prometheus server run as a process.
type PrometheusOptions struct {
	// Path is the prometheus executable (Debian: /usr/bin/prometheus).
	Path string
	// Dir receives the configuration, the TSDB and the log.
	Dir string
	// Config is the prometheus.yml text.
	Config string
	// ReadyTimeout bounds the wait for /-/ready.
	ReadyTimeout time.Duration
}

// Prometheus is a running Prometheus server on a loopback port.
type Prometheus struct {
	opts PrometheusOptions
	port int
	// Process is the server process.
	Process *Process
}

// NewPrometheus writes the configuration and picks a port.
func NewPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if _, err := Find(o.Path, "apt-get install prometheus"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("creating prometheus folder: %w", err)
	}
	cfg := filepath.Join(o.Dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o644); err != nil {
		return nil, fmt.Errorf("writing prometheus config: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &Prometheus{opts: o, port: port}
	p.Process = &Process{
		Name: "prometheus", Path: o.Path, LogPath: filepath.Join(o.Dir, "prometheus.log"),
		Args: []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + filepath.Join(o.Dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--log.level=info",
		},
	}
	return p, nil
}

// URL is the server's base URL.
func (p *Prometheus) URL() string { return "http://127.0.0.1:" + strconv.Itoa(p.port) }

// Start starts the server and waits until it is ready.
func (p *Prometheus) Start(ctx context.Context) error {
	if err := CheckPortFree(p.port); err != nil {
		return fmt.Errorf("starting prometheus: %w", err)
	}
	if err := p.Process.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	if err := WaitFor(ctx, p.Process, 200*time.Millisecond,
		HTTPOK(client, p.URL()+"/-/ready", "")); err != nil {
		return fmt.Errorf("waiting for prometheus: (log: %s): %w", p.Process.LogPath, err)
	}
	return nil
}

// Sample is one series of an instant query result.
type Sample struct {
	// Metric holds the series' labels.
	Metric map[string]string
	// Value is the sample value.
	Value float64
}

// Query runs an instant PromQL query and returns its vector result.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	u := p.URL() + "/api/v1/query?query=" + url.QueryEscape(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("building query: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying %q: %w", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding answer to %q: %w", q, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, body.Error)
	}
	if body.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %q, want vector", q, body.Data.ResultType)
	}
	out := make([]Sample, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		s, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query %q: value %v is not a string", q, r.Value[1])
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: parsing value: %w", q, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}
