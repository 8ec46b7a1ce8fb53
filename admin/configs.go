package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ResourceType is the kind of resource a config belongs to.
type ResourceType int8

// Config resource types, as numbered in Kafka's ConfigResource.Type.
const (
	ResourceTopic        ResourceType = 2
	ResourceBroker       ResourceType = 4
	ResourceBrokerLogger ResourceType = 8
)

func (t ResourceType) String() string {
	switch t {
	case ResourceTopic:
		return "topic"
	case ResourceBroker:
		return "broker"
	case ResourceBrokerLogger:
		return "broker-logger"
	}
	return "resource-type-" + strconv.Itoa(int(t))
}

// ConfigSource is where a config's value comes from.
type ConfigSource int8

// Config sources, as numbered in DescribeConfigs v1+.
const (
	SourceUnknown              ConfigSource = 0
	SourceDynamicTopic         ConfigSource = 1
	SourceDynamicBroker        ConfigSource = 2
	SourceDynamicDefaultBroker ConfigSource = 3
	SourceStaticBroker         ConfigSource = 4
	SourceDefault              ConfigSource = 5
	SourceDynamicBrokerLogger  ConfigSource = 6
)

func (s ConfigSource) String() string {
	switch s {
	case SourceDynamicTopic:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBroker:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBroker:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBroker:
		return "STATIC_BROKER_CONFIG"
	case SourceDefault:
		return "DEFAULT_CONFIG"
	case SourceDynamicBrokerLogger:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	}
	return "UNKNOWN"
}

// ConfigSynonym is one lower-precedence source of a config (the broker
// default behind a topic override, KIP-226).
type ConfigSynonym struct {
	Name   string
	Value  *string
	Source ConfigSource
}

// ConfigEntry is one described config.
type ConfigEntry struct {
	Name string
	// Value is nil for sensitive configs and for configs without a value.
	Value     *string
	Source    ConfigSource
	ReadOnly  bool
	Sensitive bool
	// Synonyms lists the config's other sources, highest precedence first.
	Synonyms []ConfigSynonym
	// Doc is the config's documentation (DescribeConfigs v3+).
	Doc *string
}

// IsDefault reports whether the value is the default rather than set on
// the resource.
func (e ConfigEntry) IsDefault() bool {
	return e.Source == SourceDefault || e.Source == SourceStaticBroker
}

// ResourceConfig is the described configs of one resource.
type ResourceConfig struct {
	Type ResourceType
	Name string
	// Configs is in the broker's order (Kafka sorts by name).
	Configs []ConfigEntry
	// Err is the resource's error, kerr.UnknownTopicOrPartition for a
	// topic that does not exist.
	Err error
}

// Config returns the named config's entry.
func (rc ResourceConfig) Config(name string) (ConfigEntry, bool) {
	for _, e := range rc.Configs {
		if e.Name == name {
			return e, true
		}
	}
	return ConfigEntry{}, false
}

// ResourceConfigs holds one result per requested resource, in request order.
type ResourceConfigs []ResourceConfig

// Error joins the errors of every resource that failed, nil if none did.
func (rs ResourceConfigs) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", r.Type, r.Name, r.Err))
		}
	}
	return errors.Join(errs...)
}

// DescribeConfigs describes every config of the named resources of one
// type, with their sources and synonyms. Broker resources are named by
// node id and asked of that broker, as Kafka requires.
func (c *Client) DescribeConfigs(ctx context.Context, typ ResourceType, names ...string) (ResourceConfigs, error) {
	if len(names) == 0 {
		return nil, nil
	}
	results := make(map[string]ResourceConfig, len(names))
	for node, group := range c.configTargets(typ, names) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms = true
		req.IncludeDocumentation = false
		for _, n := range group {
			r := kmsg.NewDescribeConfigsRequestResource()
			r.ResourceType = kmsg.ConfigResourceType(typ)
			r.ResourceName = n
			req.Resources = append(req.Resources, r)
		}
		kresp, err := c.configRequest(ctx, node, req, true)
		if err != nil {
			return nil, fmt.Errorf("admin: describe configs: %w", err)
		}
		resp, ok := kresp.(*kmsg.DescribeConfigsResponse)
		if !ok {
			return nil, fmt.Errorf("admin: describe configs: %w: got %T", ErrMalformedResponse, kresp)
		}
		for _, r := range resp.Resources {
			rc := ResourceConfig{Type: ResourceType(r.ResourceType), Name: r.ResourceName, Err: itemErr(r.ErrorCode, r.ErrorMessage)}
			for _, e := range r.Configs {
				ce := ConfigEntry{Name: e.Name, Value: e.Value, Source: ConfigSource(e.Source), ReadOnly: e.ReadOnly, Sensitive: e.IsSensitive, Doc: e.Documentation}
				if resp.Version == 0 {
					// v0 has only is_default; map it to the v1 sources.
					ce.Source = SourceDynamicTopic
					if typ == ResourceBroker {
						ce.Source = SourceDynamicBroker
					}
					if e.IsDefault {
						ce.Source = SourceDefault
					}
				}
				for _, s := range e.ConfigSynonyms {
					ce.Synonyms = append(ce.Synonyms, ConfigSynonym{Name: s.Name, Value: s.Value, Source: ConfigSource(s.Source)})
				}
				rc.Configs = append(rc.Configs, ce)
			}
			results[r.ResourceName] = rc
		}
	}
	out := make(ResourceConfigs, 0, len(names))
	for _, n := range names {
		rc, ok := results[n]
		if !ok {
			rc = ResourceConfig{Type: typ, Name: n, Err: fmt.Errorf("%w: resource missing from DescribeConfigs response", ErrMalformedResponse)}
		}
		out = append(out, rc)
	}
	return out, nil
}

// AlterConfig is one resource's new config set for AlterConfigs.
type AlterConfig struct {
	Type ResourceType
	Name string
	// Configs is the complete set of non-default configs: AlterConfigs
	// replaces the resource's configs, so a config left out returns to
	// its default (Kafka's legacy AlterConfigs semantics; use
	// IncrementalAlterConfigs to change single keys).
	Configs map[string]string
}

// ConfigOp is an IncrementalAlterConfigs operation (KIP-339).
type ConfigOp int8

// Config operations, as numbered in IncrementalAlterConfigs.
const (
	// OpSet sets the config to Value.
	OpSet ConfigOp = 0
	// OpDelete returns the config to its default.
	OpDelete ConfigOp = 1
	// OpAppend adds Value to a list config.
	OpAppend ConfigOp = 2
	// OpSubtract removes Value from a list config.
	OpSubtract ConfigOp = 3
)

// ConfigChange is one config operation of IncrementalAlterConfigs.
type ConfigChange struct {
	Name  string
	Op    ConfigOp
	Value string // ignored by OpDelete
}

// IncrementalAlterConfig is one resource's changes for
// IncrementalAlterConfigs.
type IncrementalAlterConfig struct {
	Type    ResourceType
	Name    string
	Changes []ConfigChange
}

// AlterConfigsResult is the outcome for one resource of AlterConfigs or
// IncrementalAlterConfigs.
type AlterConfigsResult struct {
	Type ResourceType
	Name string
	// Err is the resource's error: kerr.InvalidConfig for an unknown
	// config or a value out of range, kerr.UnknownTopicOrPartition, ...
	Err error
}

// AlterConfigsResults holds one result per resource, in request order.
type AlterConfigsResults []AlterConfigsResult

// Error joins the errors of every resource that failed, nil if none did.
func (rs AlterConfigsResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", r.Type, r.Name, r.Err))
		}
	}
	return errors.Join(errs...)
}

// AlterConfigs replaces the configs of resources (legacy AlterConfigs,
// key 33). Prefer IncrementalAlterConfigs, which changes only the named
// keys.
func (c *Client) AlterConfigs(ctx context.Context, resources ...AlterConfig) (AlterConfigsResults, error) {
	return c.alterConfigs(ctx, false, resources)
}

// ValidateAlterConfigs checks AlterConfigs without applying it.
func (c *Client) ValidateAlterConfigs(ctx context.Context, resources ...AlterConfig) (AlterConfigsResults, error) {
	return c.alterConfigs(ctx, true, resources)
}

func (c *Client) alterConfigs(ctx context.Context, validateOnly bool, resources []AlterConfig) (AlterConfigsResults, error) {
	keys := make([]resourceKey, len(resources))
	for i, r := range resources {
		keys[i] = resourceKey{r.Type, r.Name}
	}
	return c.alterByNode(ctx, "alter configs", keys, func(idx []int) kmsg.Request {
		req := kmsg.NewPtrAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		for _, i := range idx {
			r := resources[i]
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType = kmsg.ConfigResourceType(r.Type)
			rr.ResourceName = r.Name
			for _, k := range sortedKeys(r.Configs) {
				rc := kmsg.NewAlterConfigsRequestResourceConfig()
				rc.Name = k
				rc.Value = kmsg.StringPtr(r.Configs[k])
				rr.Configs = append(rr.Configs, rc)
			}
			req.Resources = append(req.Resources, rr)
		}
		return req
	}, func(kresp kmsg.Response) ([]resourceResult, bool) {
		resp, ok := kresp.(*kmsg.AlterConfigsResponse)
		if !ok {
			return nil, false
		}
		out := make([]resourceResult, len(resp.Resources))
		for i, r := range resp.Resources {
			out[i] = resourceResult{resourceKey{ResourceType(r.ResourceType), r.ResourceName}, itemErr(r.ErrorCode, r.ErrorMessage)}
		}
		return out, true
	})
}

// IncrementalAlterConfigs changes single configs of resources (KIP-339),
// leaving the others as they are.
func (c *Client) IncrementalAlterConfigs(ctx context.Context, resources ...IncrementalAlterConfig) (AlterConfigsResults, error) {
	return c.incrementalAlterConfigs(ctx, false, resources)
}

// ValidateIncrementalAlterConfigs checks IncrementalAlterConfigs without
// applying it.
func (c *Client) ValidateIncrementalAlterConfigs(ctx context.Context, resources ...IncrementalAlterConfig) (AlterConfigsResults, error) {
	return c.incrementalAlterConfigs(ctx, true, resources)
}

func (c *Client) incrementalAlterConfigs(ctx context.Context, validateOnly bool, resources []IncrementalAlterConfig) (AlterConfigsResults, error) {
	keys := make([]resourceKey, len(resources))
	for i, r := range resources {
		keys[i] = resourceKey{r.Type, r.Name}
	}
	return c.alterByNode(ctx, "incremental alter configs", keys, func(idx []int) kmsg.Request {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		for _, i := range idx {
			r := resources[i]
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType = kmsg.ConfigResourceType(r.Type)
			rr.ResourceName = r.Name
			for _, ch := range r.Changes {
				rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				rc.Name = ch.Name
				rc.Op = kmsg.IncrementalAlterConfigOp(ch.Op)
				if ch.Op != OpDelete {
					rc.Value = kmsg.StringPtr(ch.Value)
				}
				rr.Configs = append(rr.Configs, rc)
			}
			req.Resources = append(req.Resources, rr)
		}
		return req
	}, func(kresp kmsg.Response) ([]resourceResult, bool) {
		resp, ok := kresp.(*kmsg.IncrementalAlterConfigsResponse)
		if !ok {
			return nil, false
		}
		out := make([]resourceResult, len(resp.Resources))
		for i, r := range resp.Resources {
			out[i] = resourceResult{resourceKey{ResourceType(r.ResourceType), r.ResourceName}, itemErr(r.ErrorCode, r.ErrorMessage)}
		}
		return out, true
	})
}

type resourceKey struct {
	typ  ResourceType
	name string
}

type resourceResult struct {
	key resourceKey
	err error
}

// alterByNode sends one alter request per target broker (broker resources
// go to that broker, the rest to any) and lays the results out in request
// order. Alter requests are not resent after a lost connection: whether
// they were applied is unknown.
func (c *Client) alterByNode(ctx context.Context, what string, keys []resourceKey,
	build func(idx []int) kmsg.Request, parse func(kmsg.Response) ([]resourceResult, bool),
) (AlterConfigsResults, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	byNode := map[int32][]int{}
	for i, k := range keys {
		n := int32(-1)
		if k.typ == ResourceBroker || k.typ == ResourceBrokerLogger {
			n = brokerNode(k.name)
		}
		byNode[n] = append(byNode[n], i)
	}
	got := make(map[resourceKey]error, len(keys))
	seen := make(map[resourceKey]bool, len(keys))
	for node, idx := range byNode {
		kresp, err := c.configRequest(ctx, node, build(idx), false)
		if err != nil {
			return nil, fmt.Errorf("admin: %s: %w", what, err)
		}
		rs, ok := parse(kresp)
		if !ok {
			return nil, fmt.Errorf("admin: %s: %w: got %T", what, ErrMalformedResponse, kresp)
		}
		for _, r := range rs {
			got[r.key], seen[r.key] = r.err, true
		}
	}
	out := make(AlterConfigsResults, len(keys))
	for i, k := range keys {
		out[i] = AlterConfigsResult{Type: k.typ, Name: k.name, Err: got[k]}
		if !seen[k] {
			out[i].Err = fmt.Errorf("%w: resource missing from response", ErrMalformedResponse)
		}
	}
	return out, nil
}

// configTargets groups resource names by the broker to ask: broker
// resources go to the named broker (-1: any broker for the cluster-wide
// default, the empty name).
func (c *Client) configTargets(typ ResourceType, names []string) map[int32][]string {
	out := map[int32][]string{}
	for _, n := range names {
		node := int32(-1)
		if typ == ResourceBroker || typ == ResourceBrokerLogger {
			node = brokerNode(n)
		}
		out[node] = append(out[node], n)
	}
	return out
}

func brokerNode(name string) int32 {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || id < 0 {
		return -1
	}
	return int32(id)
}

func (c *Client) configRequest(ctx context.Context, node int32, req kmsg.Request, readOnly bool) (kmsg.Response, error) {
	if node < 0 {
		if readOnly {
			return c.anyBroker(ctx, req)
		}
		if err := c.checkOpen(); err != nil {
			return nil, err
		}
		return c.cl.Request(ctx, req)
	}
	return c.node(ctx, node, req, readOnly)
}
