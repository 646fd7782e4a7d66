package mixed

import (
	crand "crypto/rand"
	"errors"
	"io"
	"sync"

	"github.com/raftkit/raft/rafttest"
)

// runMu serializes the runs of Run, which share crypto/rand.Reader.
var runMu sync.Mutex

// Run is rafttest.Run for clusters with etcd raft nodes; hand it the
// NodeFactory of a Cluster or an Upgrade.
//
// rafttest.Run makes the nodes' randomized election timeouts replay by
// giving each node the run's seeded source, NodeConfig.Rand, which
// raftkit nodes take as Config.Rand. etcd raft has no such field: it draws
// its timeouts from crypto/rand.Reader, through a global source of its
// own. So Run points crypto/rand.Reader at the run's source (which is also
// an io.Reader of the same stream) while the run goes on, and puts the
// process's reader back afterwards. Every node of the run, of either kind,
// then draws from the one stream, in turn, and the run replays. As that
// reader belongs to the whole process, the runs of Run are serialized, and
// nothing else in the process should read crypto/rand.Reader meanwhile.
func Run(opts rafttest.Options) rafttest.Result {
	runMu.Lock()
	defer runMu.Unlock()
	rr := &runReader{}
	prev := crand.Reader
	crand.Reader = rr
	defer func() { crand.Reader = prev }()

	factory := opts.NewNode
	if factory == nil {
		factory = rafttest.NewRawNode
	}
	opts.NewNode = func(cfg rafttest.NodeConfig) (rafttest.Node, error) {
		r, ok := cfg.Rand.(io.Reader)
		if !ok {
			return nil, errNoRunReader
		}
		rr.r = r
		return factory(cfg)
	}
	return rafttest.Run(opts)
}

var errNoRunReader = errors.New("mixed: the run's NodeConfig.Rand is not an io.Reader, so etcd raft nodes cannot draw from it")

// runReader is crypto/rand.Reader during a Run: the run's source, once the
// first node started.
type runReader struct{ r io.Reader }

func (rr *runReader) Read(p []byte) (int, error) {
	if rr.r == nil {
		return 0, errors.New("mixed: crypto/rand.Reader read before the run's first node started")
	}
	return rr.r.Read(p)
}
