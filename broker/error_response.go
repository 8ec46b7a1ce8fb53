package broker

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// errorResponse builds req's response with code in every error field, so
// a client sees a Kafka error per topic and partition it asked about: for an
// unsupported version, an injected fault, or a request a bug kept from being
// answered. It returns nil for kinds that have no such response here (those
// the broker does not serve); their connection is closed instead.
//
// kmsg's requests and responses share one shape, generated from Kafka's
// JSON schemas: a response lists the same topics, partitions, groups or
// resources as its request, under the same field names, each with an
// ErrorCode. So one walk over that shape serves every API, driven by three
// tables: which lists to mirror, which identifying fields to copy, and
// which fields Kafka fills with a sentinel when there is no value.
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	if !hasErrorResponse(req.Key()) {
		return nil
	}
	resp := req.ResponseKind() // at req's version, with schema defaults
	src, dst := reflect.ValueOf(req).Elem(), reflect.ValueOf(resp).Elem()
	fillError(dst, code)
	if req.Key() == metadataKey {
		// Metadata's top-level error (v13) is for the whole cluster view
		// (REBOOTSTRAP_REQUIRED); the error belongs to the topics asked.
		dst.FieldByName("ErrorCode").SetInt(0)
	}
	mirrorLists(src, dst, code)
	return resp
}

// hasErrorResponse reports whether errorResponse answers key: every API the
// broker serves, and the group APIs, answered here when no coordinator is
// wired in or a fault is injected.
func hasErrorResponse(key int16) bool {
	if apiFor(key) != nil {
		return true
	}
	for i := range groupAPIs {
		if groupAPIs[i].key == key {
			return true
		}
	}
	return false
}

// errorLists are the request lists whose elements the response answers one
// by one: request field, response field, and for lists of bare names or
// numbers, the response field that identifies the element. Partitions are
// mirrored only inside topics (see mirrorLists).
var errorLists = []struct{ from, to, id string }{
	{"TopicNames", "Topics", "Topic"}, // DeleteTopics v0-5
	{"Topics", "Topics", "Topic"},
	{"Partitions", "Partitions", "Partition"}, // OffsetFetch v0-7: bare numbers
	{"Groups", "Groups", "Group"},             // DescribeGroups, DeleteGroups: bare names
	{"Resources", "Resources", ""},
	{"CoordinatorKeys", "Coordinators", "Key"},                   // FindCoordinator v4+
	{"Creations", "Results", ""},                                 // CreateAcls
	{"Filters", "Results", ""},                                   // DeleteAcls
	{"Entries", "Entries", ""},                                   // AlterClientQuotas
	{"Upsertions", "Results", ""},                                // AlterUserScramCredentials
	{"TransactionalIDs", "TransactionStates", "TransactionalID"}, // DescribeTransactions
}

// errorIDFields identify an element; they are copied from the request's.
var errorIDFields = []string{"Topic", "TopicID", "Partition", "Group", "ResourceType", "ResourceName"}

// errorSentinels are the fields Kafka sets to -1 when it has no value,
// where kmsg's schema defaults leave 0 (offsets, epochs, node ids), and
// record sets that are empty, never null (librdkafka rejects a null one,
// see 01_fetch.go).
var errorSentinels = []string{"BaseOffset", "HighWatermark", "LastStableOffset", "LogStartOffset",
	"ProducerEpoch", "NodeID", "Offset", "LeaderEpoch", "EndOffset", "RecordBatches"}

// fillError sets v's ErrorCode and sentinel fields, where v has them.
func fillError(v reflect.Value, code int16) {
	if f := v.FieldByName("ErrorCode"); f.IsValid() {
		f.SetInt(int64(code))
	}
	for _, name := range errorSentinels {
		f := v.FieldByName(name)
		switch {
		case !f.IsValid():
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes([]byte{})
		case f.CanInt():
			f.SetInt(-1)
		}
	}
}

// mirrorLists answers, in dst, every element of src's lists named in
// errorLists; inside topics, their partitions too.
func mirrorLists(src, dst reflect.Value, code int16) {
	for _, l := range errorLists {
		from, to := src.FieldByName(l.from), dst.FieldByName(l.to)
		if !from.IsValid() || !to.IsValid() || from.Kind() != reflect.Slice || to.Kind() != reflect.Slice {
			continue
		}
		if l.from == "Partitions" && src.FieldByName("Topic").Kind() == reflect.Invalid {
			continue
		}
		for i := range from.Len() {
			in := from.Index(i)
			out := reflect.New(to.Type().Elem())
			if d, ok := out.Interface().(interface{ Default() }); ok {
				d.Default()
			}
			out = out.Elem()
			if in.Kind() == reflect.Struct {
				for _, name := range errorIDFields {
					set(out.FieldByName(name), in.FieldByName(name))
				}
			} else {
				set(out.FieldByName(l.id), in)
			}
			fillError(out, code)
			if l.to == "Topics" && in.Kind() == reflect.Struct {
				mirrorLists(in, out, code)
			}
			to.Set(reflect.Append(to, out))
		}
	}
}

// set copies src into dst when both exist and src's type fits, also a
// name into a nullable name (*string).
func set(dst, src reflect.Value) {
	switch {
	case !dst.IsValid() || !src.IsValid():
	case src.Type().AssignableTo(dst.Type()):
		dst.Set(src)
	case dst.Kind() == reflect.Pointer && src.Type().AssignableTo(dst.Type().Elem()):
		p := reflect.New(src.Type())
		p.Elem().Set(src)
		dst.Set(p)
	}
}
