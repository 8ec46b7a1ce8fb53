package reqframe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestFrame encodes req as kgo would put it on the wire, size included.
func requestFrame(req kmsg.Request, version int16, corr int32, clientID string) []byte {
	req.SetVersion(version)
	buf := []byte{0, 0, 0, 0}
	buf = binary.BigEndian.AppendUint16(buf, uint16(req.Key()))
	buf = binary.BigEndian.AppendUint16(buf, uint16(version))
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(clientID)))
	buf = append(buf, clientID...)
	if req.IsFlexible() {
		buf = append(buf, 0)
	}
	buf = req.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func TestReadAndParse(t *testing.T) {
	md := kmsg.NewPtrMetadataRequest()
	t1 := kmsg.NewMetadataRequestTopic()
	t1.Topic = kmsg.StringPtr("orders")
	md.Topics = append(md.Topics, t1)
	var stream []byte
	stream = append(stream, requestFrame(md, 12, 7, "me")...)                             // flexible: header v2
	stream = append(stream, requestFrame(md, 8, 8, "")...)                                // header v1
	stream = append(stream, requestFrame(kmsg.NewPtrApiVersionsRequest(), 99, 9, "x")...) // KIP-511

	rd := bufio.NewReader(bytes.NewReader(stream))
	var size [4]byte
	read := func() []byte {
		n, err := ReadSize(rd, &size, 1<<20)
		require.NoError(t, err)
		f, err := ReadBody(rd, int(n), nil)
		require.NoError(t, err)
		return f
	}
	h, req, err := Parse(read())
	require.NoError(t, err)
	assert.Equal(t, Header{Key: 3, Version: 12, Corr: 7, ClientID: []byte("me")}, h)
	assert.Equal(t, "orders", *req.(*kmsg.MetadataRequest).Topics[0].Topic)

	h, req, err = Parse(read())
	require.NoError(t, err)
	assert.Equal(t, Header{Key: 3, Version: 8, Corr: 8}, h)
	assert.Equal(t, "orders", *req.(*kmsg.MetadataRequest).Topics[0].Topic)

	h, req, err = Parse(read())
	require.NoError(t, err, "a too-new ApiVersions is answered, not refused")
	assert.Nil(t, req)
	assert.Equal(t, int16(99), h.Version)

	_, err = ReadSize(rd, &size, 1<<20)
	assert.ErrorIs(t, err, io.EOF)
}

func TestParseRejects(t *testing.T) {
	good := requestFrame(kmsg.NewPtrMetadataRequest(), 12, 1, "c")[4:]
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"short", good[:9]},
		{"client id past the end", append(append([]byte{}, good[:8]...), 0x7f, 0)},
		{"client id length -2", append(append([]byte{}, good[:8]...), 0xff, 0xfe)},
		{"unknown key", append([]byte{0x7f, 0}, good[2:]...)},
		{"version beyond kmsg", append([]byte{0, 3, 0x7f, 0}, good[4:]...)},
		{"truncated body", good[:len(good)-1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(tc.frame)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, err := ReadSize(bytes.NewReader([]byte{0, 0, 1, 0}), new([4]byte), 255)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = ReadSize(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), new([4]byte), 255)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestAppendResponse(t *testing.T) {
	for _, tc := range []struct {
		resp kmsg.Response
		tags bool
	}{
		{kmsg.NewPtrMetadataResponse(), true},
		{kmsg.NewPtrApiVersionsResponse(), false}, // KIP-511: header v0 always
	} {
		tc.resp.SetVersion(tc.resp.MaxVersion())
		out := AppendResponse([]byte("prefix"), 42, tc.resp)
		out = out[len("prefix"):]
		require.Equal(t, len(out)-4, int(binary.BigEndian.Uint32(out)))
		assert.Equal(t, int32(42), int32(binary.BigEndian.Uint32(out[4:])))
		body := out[8:]
		if tc.tags {
			r := kbin.Reader{Src: body}
			kmsg.SkipTags(&r)
			require.True(t, r.Ok())
			body = r.Src
		}
		dec := kmsg.ResponseForKey(tc.resp.Key())
		dec.SetVersion(tc.resp.GetVersion())
		assert.NoError(t, dec.ReadFrom(body))
	}
}

func TestReadBody(t *testing.T) {
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i)
	}
	for _, n := range []int{0, 1, 1000, 64 << 10, 64<<10 + 1, len(big)} {
		got, err := ReadBody(bytes.NewReader(big), n, nil)
		require.NoError(t, err)
		assert.Equal(t, big[:n], got, "n=%d", n)
		// A pooled buffer, smaller or larger than the body, is reused or grown.
		for _, c := range []int{16, 128 << 10} {
			pooled := make([]byte, 0, c)
			got, err = ReadBody(bytes.NewReader(big), n, pooled)
			require.NoError(t, err)
			assert.Equal(t, big[:n], got, "n=%d pooled cap %d", n, c)
		}
	}
	_, err := ReadBody(bytes.NewReader(big[:10]), 20, nil)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// FuzzParse: whatever bytes arrive, Parse returns a request or an error
// wrapping ErrMalformed, and never panics past its recover.
func FuzzParse(f *testing.F) {
	f.Add(requestFrame(kmsg.NewPtrMetadataRequest(), 12, 1, "c")[4:])
	f.Add(requestFrame(kmsg.NewPtrProduceRequest(), 9, 1, "")[4:])
	f.Add(requestFrame(kmsg.NewPtrApiVersionsRequest(), 3, 1, "c")[4:])
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := Parse(frame)
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		case req == nil && h.Key != apiVersionsKey:
			t.Fatalf("no request and no error for api key %d", h.Key)
		}
	})
}
