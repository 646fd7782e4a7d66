package raftpb

import "testing"

// benchMsgApp is a MsgApp with 16 entries of 128 B, the size of a busy
// leader's append.
func benchMsgApp() *Message { return benchMsgAppN(16, 128) }

// benchMsgAppN is a MsgApp with n entries of size bytes.
func benchMsgAppN(n, size int) *Message {
	m := &Message{Type: MsgApp, From: 1, To: 2, Term: 5, LogTerm: 5, Index: 1000, Commit: 990}
	for i := 0; i < n; i++ {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		m.Entries = append(m.Entries, Entry{Term: 5, Index: 1001 + uint64(i), Data: data})
	}
	return m
}

// BenchmarkMsgApp16x128 encodes and decodes benchMsgApp. Two floors come
// first: copy, a plain copy of the encoding into a preallocated buffer, is
// the floor of MarshalTo; clone, an allocating copy, is the floor of
// Marshal, which returns a fresh slice. The codec benchmarks run twice:
// impl=codec is codec.go and decode.go, impl=generated the gogo code they
// replaced (kept in codec_ref_test.go), so that one run compares them on
// the same machine state. op=marshalpasses, codec only, is Marshal without
// its allocation: its sizing and encoding passes into a reused buffer.
func BenchmarkMsgApp16x128(b *testing.B) { benchmarkMsgApp(b, benchMsgApp()) }

// BenchmarkMsgApp64x128 is BenchmarkMsgApp16x128 with 64 entries of 128 B
// (9 KB encoded), the size of issue 20's codec scenario.
func BenchmarkMsgApp64x128(b *testing.B) { benchmarkMsgApp(b, benchMsgAppN(64, 128)) }

func benchmarkMsgApp(b *testing.B, m *Message) {
	enc, err := m.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=copy", func(b *testing.B) {
		dst := make([]byte, len(enc))
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			copy(dst, enc)
		}
	})
	b.Run("op=clone", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			benchSink = append([]byte(nil), enc...)
		}
	})
	type encoder interface {
		Marshal() ([]byte, error)
		MarshalTo([]byte) (int, error)
		Size() int
	}
	msg := m
	for _, impl := range []struct {
		name string
		m    encoder
	}{{"codec", m}, {"generated", (*refMessage)(m)}} {
		m := impl.m
		b.Run("op=marshal/impl="+impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				if benchSink, err = m.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("op=marshalto/impl="+impl.name, func(b *testing.B) {
			buf := make([]byte, m.Size())
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := m.MarshalTo(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
		if impl.name == "codec" {
			// Marshal's two passes without its allocation, into a
			// reused buffer: the allocation and the collections it
			// causes are the same for any encoder, and most of
			// Marshal's noise.
			b.Run("op=marshalpasses/impl=codec", func(b *testing.B) {
				buf := make([]byte, len(enc))
				b.SetBytes(int64(len(enc)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					var heads [marshalHeads]entryHead
					h := heads[:min(len(msg.Entries), len(heads))]
					msg.encode(buf[:msg.sizeHeads(h)], 0, h)
				}
			})
		}
		b.Run("op=size/impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				benchSize = m.Size()
			}
		})
	}
	// The floor of a decoder that copies each payload into its own array:
	// the Entries slice and one array per Data, nothing parsed.
	b.Run("op=allocfloor", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ents := make([]Entry, len(m.Entries))
			for k := range ents {
				d := m.Entries[k].Data
				ents[k].Data = make([]byte, len(d))
				copy(ents[k].Data, d)
			}
			benchEntries = ents
		}
	})
	// Decoding, the same way: impl=codec is decode.go, impl=generated the
	// gogo decoder it replaced. Reset first, as a receive loop reusing one
	// Message would, since Unmarshal appends to Entries.
	type decoder interface {
		Reset()
		Unmarshal([]byte) error
	}
	for _, impl := range []struct {
		name string
		m    decoder
	}{{"codec", &Message{}}, {"generated", (*refMessage)(&Message{})}} {
		dst := impl.m
		b.Run("op=unmarshal/impl="+impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				dst.Reset()
				if err := dst.Unmarshal(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSink, benchSize and benchEntries keep results alive so that the compiler cannot
// drop the work that produced them.
var (
	benchSink    []byte
	benchSize    int
	benchEntries []Entry
)
