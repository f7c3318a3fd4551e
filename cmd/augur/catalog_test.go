package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCatalogOfflineJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runCatalog(context.Background(), []string{"--offline", "--region", "us-east-1",
		"--types", "m5.large", "--format", "json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want on-demand and spot: %s", len(rows), out.String())
	}
	for _, r := range rows {
		r["age_seconds"] = r["age_seconds"].(float64) > 0
		if r["capacity_type"] == "SPOT" {
			r["usd_per_hour"] = r["usd_per_hour"].(float64) < 0.096
		}
	}
	want := []map[string]any{
		{"instance_type": "m5.large", "zone": "", "capacity_type": "ON_DEMAND",
			"usd_per_hour": 0.096, "interruption_probability": 0.0, "source": "snapshot",
			"age_seconds": true},
		{"instance_type": "m5.large", "zone": "", "capacity_type": "SPOT",
			"usd_per_hour": true, "interruption_probability": 0.175,
			"source": "spot-advisor-estimate", "age_seconds": true},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestCatalogBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"format":       {"--offline", "--format", "yaml"},
		"unknown type": {"--offline", "--types", "m5.large,no.such"},
		"empty region": {"--offline", "--region", ""},
		"extra":        {"--offline", "m5.large"},
	} {
		var out, errOut bytes.Buffer
		if err := runCatalog(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestCatalogLive points the SDK at a local server through
// AWS_ENDPOINT_URL: EC2 answers spot prices, the Price List API is
// throttled and DescribeInstanceTypes fails. The command prints live spot
// prices, snapshot on-demand prices, and says what it could not refresh.
func TestCatalogLive(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Target") != "" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		form, _ := url.ParseQuery(string(b))
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		if form.Get("Action") != "DescribeSpotPriceHistory" {
			w.WriteHeader(500)
			io.WriteString(w, `<Response><Errors><Error><Code>InternalError</Code>`+
				`<Message>boom</Message></Error></Errors><RequestID>1</RequestID></Response>`)
			return
		}
		ts := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		io.WriteString(w, `<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
			`<requestId>1</requestId><spotPriceHistorySet>`+
			`<item><instanceType>m5.large</instanceType><productDescription>Linux/UNIX</productDescription>`+
			`<spotPrice>0.038000</spotPrice><timestamp>`+ts+`</timestamp><availabilityZone>us-east-1a</availabilityZone></item>`+
			`<item><instanceType>m5.large</instanceType><productDescription>Linux/UNIX</productDescription>`+
			`<spotPrice>0.041000</spotPrice><timestamp>`+ts+`</timestamp><availabilityZone>us-east-1c</availabilityZone></item>`+
			`</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>`)
	}))
	defer srv.Close()
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": srv.URL,
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_CONFIG_FILE": t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE": t.TempDir() +
			"/none", "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"} {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	err := runCatalog(context.Background(), []string{"--region", "us-east-1", "--types",
		"m5.large", "--format", "json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	var rows []catalogRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.CapacityType+" "+r.Zone] = r.Source
	}
	want := map[string]string{"ON_DEMAND ": "snapshot", "SPOT us-east-1a": "live",
		"SPOT us-east-1c": "live"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	for _, msg := range []string{"on-demand prices not refreshed", "ThrottlingException",
		"instance types not refreshed"} {
		if !strings.Contains(errOut.String(), msg) {
			t.Errorf("stderr lacks %q:\n%s", msg, errOut.String())
		}
	}
}
