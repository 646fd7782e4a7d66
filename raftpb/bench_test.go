package raftpb

import "testing"

// benchMsgApp is a MsgApp with 16 entries of 128 B, the size of a busy
// leader's append.
func benchMsgApp() *Message {
	m := &Message{Type: MsgApp, From: 1, To: 2, Term: 5, LogTerm: 5, Index: 1000, Commit: 990}
	for i := 0; i < 16; i++ {
		data := make([]byte, 128)
		for j := range data {
			data[j] = byte(i + j)
		}
		m.Entries = append(m.Entries, Entry{Term: 5, Index: 1001 + uint64(i), Data: data})
	}
	return m
}

// BenchmarkMsgApp16x128 marshals and unmarshals benchMsgApp; copy, a plain
// copy of the same number of bytes, is the floor to compare MB/s with.
func BenchmarkMsgApp16x128(b *testing.B) {
	m := benchMsgApp()
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
	b.Run("op=marshal", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := m.Marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=marshalto", func(b *testing.B) {
		buf := make([]byte, m.Size())
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := m.MarshalTo(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=size", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = m.Size()
		}
	})
	b.Run("op=unmarshal", func(b *testing.B) {
		var dst Message
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
