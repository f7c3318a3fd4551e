package cost

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
)

// fakeAWS is a local server answering the EC2 query protocol (XML) and the
// Price List API's JSON 1.1 protocol the way AWS does, from data the test
// sets. A scripted reply, queued per action, answers the next call of
// that action instead of the data.
type fakeAWS struct {
	srv *httptest.Server

	mu       sync.Mutex
	calls    map[string]int
	script   map[string][]reply
	bodies   map[string][]string // request bodies per action
	pageSize int
	products []string
	spot     []spotRow
	types    []typeRow
	// seen receives the action of every call, when not nil.
	seen chan string
	// pages, when not nil, keeps each rendered page for reuse, so a
	// benchmark measures the client rather than the fake.
	pages map[string]string
}

// reply is a scripted answer. block makes the server hold the call until
// the client gives up.
type reply struct {
	status int
	body   string
	block  bool
}

type spotRow struct {
	typ, zone, price string
	at               time.Time
}

type typeRow struct {
	typ    string
	vcpu   int
	mib    int64
	gpus   int
	arch   string
	broken bool
}

func newFakeAWS(t testing.TB) *fakeAWS {
	f := &fakeAWS{calls: map[string]int{}, script: map[string][]reply{},
		bodies: map[string][]string{}, pageSize: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config returns an SDK configuration aimed at the fake. The SDK retries
// only broken connections, after a millisecond or so: every answer the
// fake gives reaches the catalogue. (Reading a large answer now and then
// fails with "use of closed network connection": net/http's write loop
// closes the connection while the answer is read, sometimes several
// times in a row. The SDK's default retryer retries it too.)
func (f *fakeAWS) config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
		Retryer:      connectionRetryer,
	}
}

func connectionRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 20
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			return time.Duration(attempt) * time.Millisecond, nil
		})
		o.RateLimiter = ratelimit.None
	})
}

func (f *fakeAWS) clients() (*ec2.Client, *pricing.Client) {
	c := ClientsFromConfig(f.config())
	return c.EC2, c.Pricing
}

func (f *fakeAWS) queue(action string, r ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[action] = append(f.script[action], r...)
}

func (f *fakeAWS) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	action := ""
	var form url.Values
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		action = target[strings.LastIndexByte(target, '.')+1:]
	} else {
		form, _ = url.ParseQuery(string(body))
		action = form.Get("Action")
	}
	f.mu.Lock()
	f.calls[action]++
	f.bodies[action] = append(f.bodies[action], string(body))
	var scripted *reply
	if q := f.script[action]; len(q) > 0 {
		scripted, f.script[action] = &q[0], q[1:]
	}
	seen := f.seen
	f.mu.Unlock()
	if seen != nil {
		select {
		case seen <- action:
		default:
		}
	}
	if scripted != nil {
		if scripted.block {
			<-r.Context().Done()
			return
		}
		f.write(w, r, scripted.status, scripted.body)
		return
	}
	var token string
	if action == "GetProducts" {
		var in struct{ NextToken string }
		_ = json.Unmarshal(body, &in)
		token = in.NextToken
	} else {
		token = form.Get("NextToken")
	}
	f.mu.Lock()
	page, cached := f.pages[action+token]
	f.mu.Unlock()
	if !cached {
		switch action {
		case "GetProducts":
			page = f.productsPage(token)
		case "DescribeSpotPriceHistory":
			page = f.spotPage(token)
		case "DescribeInstanceTypes":
			page = f.typesPage(token)
		default:
			f.write(w, r, 400, ec2Error("InvalidAction", "The action "+action+" is not valid"))
			return
		}
		f.mu.Lock()
		if f.pages != nil {
			f.pages[action+token] = page
		}
		f.mu.Unlock()
	}
	f.write(w, r, 200, page)
}

func (f *fakeAWS) write(w http.ResponseWriter, r *http.Request, status int, body string) {
	if r.Header.Get("X-Amz-Target") != "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	} else {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	}
	w.Header().Set("X-Amzn-Requestid", "5e4f1c0a-7d2b-4a51-9e0c-0d5f1f2a3b4c")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// page returns the slice bounds of the page a token asks for and the next
// token, "" on the last page.
func (f *fakeAWS) page(token string, n int) (int, int, string) {
	from, _ := strconv.Atoi(token)
	to := min(from+f.pageSize, n)
	next := ""
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next
}

func (f *fakeAWS) productsPage(token string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	// GetProducts answers at most 100 products a page.
	size := f.pageSize
	f.pageSize = min(size, 100)
	from, to, next := f.page(token, len(f.products))
	f.pageSize = size
	out := map[string]any{"FormatVersion": "aws_v1", "PriceList": f.products[from:to]}
	if next != "" {
		out["NextToken"] = next
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func (f *fakeAWS) spotPage(token string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	from, to, next := f.page(token, len(f.spot))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
		`<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><spotPriceHistorySet>`)
	for _, s := range f.spot[from:to] {
		fmt.Fprintf(&b, "<item><instanceType>%s</instanceType>"+
			"<productDescription>Linux/UNIX</productDescription><spotPrice>%s</spotPrice>"+
			"<timestamp>%s</timestamp><availabilityZone>%s</availabilityZone></item>",
			s.typ, s.price, s.at.UTC().Format("2006-01-02T15:04:05.000Z"), s.zone)
	}
	fmt.Fprintf(&b, "</spotPriceHistorySet><nextToken>%s</nextToken>"+
		"</DescribeSpotPriceHistoryResponse>", next)
	return b.String()
}

func (f *fakeAWS) typesPage(token string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	from, to, next := f.page(token, len(f.types))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
		`<requestId>2b0e4d37-cf42-4c27-9a2a-2c2d7EXAMPLE</requestId><instanceTypeSet>`)
	for _, t := range f.types[from:to] {
		fmt.Fprintf(&b, "<item><instanceType>%s</instanceType>", t.typ)
		if !t.broken {
			fmt.Fprintf(&b, "<vCpuInfo><defaultVCpus>%d</defaultVCpus>"+
				"<defaultCores>%d</defaultCores></vCpuInfo>", t.vcpu, max(1, t.vcpu/2))
		}
		fmt.Fprintf(&b, "<memoryInfo><sizeInMiB>%d</sizeInMiB></memoryInfo>"+
			"<processorInfo><supportedArchitectures><item>%s</item>"+
			"</supportedArchitectures></processorInfo>", t.mib, t.arch)
		if t.gpus > 0 {
			fmt.Fprintf(&b, "<gpuInfo><gpus><item><name>T4</name><manufacturer>NVIDIA"+
				"</manufacturer><count>%d</count><memoryInfo><sizeInMiB>16384</sizeInMiB>"+
				"</memoryInfo></item></gpus><totalGpuMemoryInMiB>%d</totalGpuMemoryInMiB>"+
				"</gpuInfo>", t.gpus, 16384*t.gpus)
		}
		b.WriteString("<currentGeneration>true</currentGeneration></item>")
	}
	fmt.Fprintf(&b, "</instanceTypeSet><nextToken>%s</nextToken>"+
		"</DescribeInstanceTypesResponse>", next)
	return b.String()
}

// ec2Error is an EC2 query-protocol error document.
func ec2Error(code, msg string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		"<Response><Errors><Error><Code>" + code + "</Code><Message>" + msg +
		"</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID>" +
		"</Response>"
}

// jsonError is a JSON 1.1 protocol error document.
func jsonError(code, msg string) string {
	return `{"__type":"` + code + `","message":"` + msg + `"}`
}

// priceDoc is one Price List product document in the shape the API
// returns: product attributes, then the on-demand term and a reserved one.
func priceDoc(typ, region, usd string) string {
	sku := strings.ToUpper(strings.ReplaceAll(typ, ".", "")) + "SKU0000000"
	sku = sku[:16]
	return `{"product":{"productFamily":"Compute Instance","attributes":{` +
		`"enhancedNetworkingSupported":"Yes","intelTurboAvailable":"Yes","memory":"8 GiB",` +
		`"dedicatedEbsThroughput":"Up to 4750 Megabps","vcpu":"2","classicnetworkingsupport":"false",` +
		`"capacitystatus":"Used","locationType":"AWS Region","storage":"EBS only",` +
		`"instanceFamily":"General purpose","operatingSystem":"Linux","regionCode":"` + region + `",` +
		`"physicalProcessor":"Intel Xeon Platinum 8175","servicecode":"AmazonEC2",` +
		`"licenseModel":"No License required","currentGeneration":"Yes","preInstalledSw":"NA",` +
		`"location":"US East (N. Virginia)","instancesku":"` + sku + `","tenancy":"Shared",` +
		`"usagetype":"BoxUsage:` + typ + `","normalizationSizeFactor":"4","operation":"RunInstances",` +
		`"instanceType":"` + typ + `","servicename":"Amazon Elastic Compute Cloud"},"sku":"` + sku + `"},` +
		`"serviceCode":"AmazonEC2","terms":{"OnDemand":{"` + sku + `.JRTCKXETXF":{` +
		`"priceDimensions":{"` + sku + `.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs",` +
		`"endRange":"Inf","description":"$` + usd + ` per On Demand Linux ` + typ + ` Instance Hour",` +
		`"appliesTo":[],"rateCode":"` + sku + `.JRTCKXETXF.6YS6EN2CT7","beginRange":"0",` +
		`"pricePerUnit":{"USD":"` + usd + `"}}},"sku":"` + sku + `","effectiveDate":"2026-11-01T00:00:00Z",` +
		`"offerTermCode":"JRTCKXETXF","termAttributes":{}}},` +
		`"Reserved":{"` + sku + `.38NPMPTW36":{"priceDimensions":{"` + sku + `.38NPMPTW36.2TG2D8R56U":{` +
		`"unit":"Quantity","description":"Upfront Fee","appliesTo":[],"rateCode":"` + sku +
		`.38NPMPTW36.2TG2D8R56U","pricePerUnit":{"USD":"1213"}},"` + sku + `.38NPMPTW36.6YS6EN2CT7":{` +
		`"unit":"Hrs","endRange":"Inf","description":"Linux/UNIX (Amazon VPC), ` + typ + ` reserved",` +
		`"appliesTo":[],"rateCode":"` + sku + `.38NPMPTW36.6YS6EN2CT7","beginRange":"0",` +
		`"pricePerUnit":{"USD":"0.0460000000"}}},"sku":"` + sku + `","effectiveDate":"2026-10-01T00:00:00Z",` +
		`"offerTermCode":"38NPMPTW36","termAttributes":{"LeaseContractLength":"3yr",` +
		`"OfferingClass":"standard","PurchaseOption":"Partial Upfront"}}}},` +
		`"version":"20261101000000","publicationDate":"2026-11-01T00:00:00Z"}`
}
