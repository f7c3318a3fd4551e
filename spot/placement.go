package spot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// PlacementAPI is the part of the EC2 API the model uses for Spot
// Placement Scores. *ec2.Client implements it.
type PlacementAPI interface {
	ec2.GetSpotPlacementScoresAPIClient
	DescribeAvailabilityZones(context.Context, *ec2.DescribeAvailabilityZonesInput,
		...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
}

// Denied reports whether err is AWS refusing a call for lack of
// permission.
func Denied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
		"OptInRequired", "AuthFailure":
		return true
	}
	return false
}

// zoneNames maps the region's zone IDs (use1-az1) to zone names
// (us-east-1a): placement scores name zones by ID, nodes by name.
func zoneNames(ctx context.Context, api PlacementAPI) (map[string]string, error) {
	out, err := api.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		return nil, fmt.Errorf("describing availability zones: %w", err)
	}
	ids := make(map[string]string, len(out.AvailabilityZones))
	for _, z := range out.AvailabilityZones {
		if z.ZoneId != nil && z.ZoneName != nil {
			ids[*z.ZoneId] = *z.ZoneName
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("describing availability zones: no zones in the answer")
	}
	return ids, nil
}

// fetchScores asks one placement score per type and zone. The score of a
// zone the region does not list is dropped; the best zone score of a type
// also stands for the region (zone "").
func fetchScores(ctx context.Context, api PlacementAPI, region string, types []string,
	capacity int32, ids map[string]string) (map[poolKey]int, error) {
	scores := make(map[poolKey]int, len(types)*4)
	for _, typ := range types {
		in := &ec2.GetSpotPlacementScoresInput{
			InstanceTypes:          []string{typ},
			TargetCapacity:         aws.Int32(capacity),
			SingleAvailabilityZone: aws.Bool(true),
			RegionNames:            []string{region},
			MaxResults:             aws.Int32(10),
		}
		pages := ec2.NewGetSpotPlacementScoresPaginator(api, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("getting spot placement scores of %s: %w", typ, err)
			}
			for _, s := range out.SpotPlacementScores {
				if s.Score == nil || s.AvailabilityZoneId == nil || *s.Score < 1 ||
					*s.Score > 10 {
					continue
				}
				zone, ok := ids[*s.AvailabilityZoneId]
				if !ok {
					continue
				}
				scores[poolKey{typ, zone}] = int(*s.Score)
				if best := scores[poolKey{typ, ""}]; int(*s.Score) > best {
					scores[poolKey{typ, ""}] = int(*s.Score)
				}
			}
		}
	}
	return scores, nil
}

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
