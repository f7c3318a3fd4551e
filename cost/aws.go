package cost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
)

// PricingAPI is the part of the AWS Price List API the catalogue uses.
// *pricing.Client implements it.
type PricingAPI interface {
	pricing.GetProductsAPIClient
}

// EC2API is the part of the EC2 API the catalogue uses. *ec2.Client
// implements it.
type EC2API interface {
	ec2.DescribeSpotPriceHistoryAPIClient
	ec2.DescribeInstanceTypesAPIClient
}

// PricingRegion is the region whose Price List endpoint the catalogue
// asks by default. The Price List API answers from a few regions only, for
// the prices of every region.
const PricingRegion = "us-east-1"

// Clients are the AWS clients of a live catalogue.
type Clients struct {
	EC2     *ec2.Client
	Pricing *pricing.Client
}

// NewClients loads the SDK's default configuration (credentials from the
// environment, the shared files, IRSA or EKS Pod Identity; endpoints from
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_PRICING) and
// returns an EC2 client for region and a Price List client for
// PricingRegion.
func NewClients(ctx context.Context, region string) (Clients, error) {
	if region == "" {
		return Clients{}, errors.New("cost: region is required")
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return Clients{}, fmt.Errorf("loading aws configuration: %w", err)
	}
	return ClientsFromConfig(cfg), nil
}

// ClientsFromConfig returns the clients of a live catalogue from an SDK
// configuration: EC2 in the configuration's region, the Price List API in
// PricingRegion.
func ClientsFromConfig(cfg aws.Config) Clients {
	return Clients{
		EC2: ec2.NewFromConfig(cfg),
		Pricing: pricing.NewFromConfig(cfg, func(o *pricing.Options) {
			o.Region = PricingRegion
		}),
	}
}

// priceListItem is the part of one Price List product document the
// catalogue reads. The API returns each product as a JSON document inside
// a JSON string.
type priceListItem struct {
	Product struct {
		Attributes struct {
			InstanceType    string `json:"instanceType"`
			OperatingSystem string `json:"operatingSystem"`
			Tenancy         string `json:"tenancy"`
			PreInstalledSW  string `json:"preInstalledSw"`
			CapacityStatus  string `json:"capacitystatus"`
			RegionCode      string `json:"regionCode"`
		} `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// errNotWanted marks a product that is not a Linux, shared-tenancy,
// software-free, used-capacity instance of the region: the filters should
// have dropped it, so it is skipped without complaint.
var errNotWanted = errors.New("product outside the filters")

// parsePriceListItem reads the instance type and hourly USD on-demand
// price from one Price List product document.
func parsePriceListItem(doc, region string) (string, float64, error) {
	var it priceListItem
	if err := json.Unmarshal([]byte(doc), &it); err != nil {
		return "", 0, fmt.Errorf("decoding price list product: %w", err)
	}
	a := it.Product.Attributes
	if a.InstanceType == "" {
		return "", 0, errors.New("price list product has no instance type")
	}
	if a.OperatingSystem != "Linux" || a.Tenancy != "Shared" || a.PreInstalledSW != "NA" ||
		(a.CapacityStatus != "" && a.CapacityStatus != "Used") ||
		(a.RegionCode != "" && a.RegionCode != region) {
		return "", 0, errNotWanted
	}
	for _, term := range it.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			if dim.Unit != "Hrs" {
				continue
			}
			s, ok := dim.PricePerUnit["USD"]
			if !ok {
				continue
			}
			usd, err := strconv.ParseFloat(s, 64)
			if err != nil || !(usd >= 0) || math.IsInf(usd, 1) {
				return "", 0, fmt.Errorf("price of %s: %q is not a price", a.InstanceType, s)
			}
			if usd == 0 {
				// A zero rate marks a product not sold on demand.
				return "", 0, errNotWanted
			}
			return a.InstanceType, usd, nil
		}
	}
	return "", 0, fmt.Errorf("price list product %s has no hourly USD on-demand price",
		a.InstanceType)
}
