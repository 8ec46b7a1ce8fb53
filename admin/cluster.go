package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// BrokerDetail is one broker of the cluster.
type BrokerDetail struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string
	// Fenced marks a broker the controller has fenced (DescribeCluster v2+).
	Fenced bool
}

// ClusterDetail describes the cluster.
type ClusterDetail struct {
	ClusterID string
	// ControllerID is the controller's node id (-1 if unknown). Kafka in
	// KRaft mode names a random broker here: clients send controller
	// requests to it and it forwards them.
	ControllerID int32
	// Brokers is sorted by node id.
	Brokers []BrokerDetail
	// FromMetadata is true when the broker lacks DescribeCluster (KIP-700,
	// Kafka 2.8) and the answer came from Metadata.
	FromMetadata bool
}

// DescribeCluster returns the cluster id, the controller and the brokers,
// with DescribeCluster where the broker has it and Metadata otherwise.
func (c *Client) DescribeCluster(ctx context.Context) (ClusterDetail, error) {
	req := kmsg.NewPtrDescribeClusterRequest()
	kresp, err := c.anyBroker(ctx, req)
	if errors.Is(err, kerr.UnsupportedVersion) {
		return c.clusterFromMetadata(ctx)
	}
	if err != nil {
		return ClusterDetail{}, fmt.Errorf("admin: describe cluster: %w", err)
	}
	resp, ok := kresp.(*kmsg.DescribeClusterResponse)
	if !ok {
		return ClusterDetail{}, fmt.Errorf("admin: describe cluster: %w: got %T", ErrMalformedResponse, kresp)
	}
	if err := itemErr(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return ClusterDetail{}, fmt.Errorf("admin: describe cluster: %w", err)
	}
	cd := ClusterDetail{ClusterID: resp.ClusterID, ControllerID: resp.ControllerID}
	for _, b := range resp.Brokers {
		cd.Brokers = append(cd.Brokers, BrokerDetail{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, Fenced: b.IsFenced})
	}
	sort.Slice(cd.Brokers, func(i, j int) bool { return cd.Brokers[i].NodeID < cd.Brokers[j].NodeID })
	return cd, nil
}

func (c *Client) clusterFromMetadata(ctx context.Context) (ClusterDetail, error) {
	resp, err := c.metadata(ctx, []string{})
	if err != nil {
		return ClusterDetail{}, fmt.Errorf("admin: describe cluster: %w", err)
	}
	cd := ClusterDetail{ControllerID: resp.ControllerID, FromMetadata: true}
	if resp.ClusterID != nil {
		cd.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		cd.Brokers = append(cd.Brokers, BrokerDetail{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	sort.Slice(cd.Brokers, func(i, j int) bool { return cd.Brokers[i].NodeID < cd.Brokers[j].NodeID })
	return cd, nil
}
