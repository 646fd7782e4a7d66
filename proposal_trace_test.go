package raft

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type proposalEvents []ProposalEvent

func (p *proposalEvents) TraceProposal(ev ProposalEvent) { *p = append(*p, ev) }

// lifeOf returns, for the entry at index, the stages in the order they
// first covered it, with the followers a Sent went to.
func (p proposalEvents) lifeOf(index uint64) (stages []ProposalStage, sentTo []uint64) {
	seen := map[ProposalStage]bool{}
	for _, ev := range p {
		covers := ev.Index >= index && (ev.First == 0 || ev.First <= index)
		if !covers {
			continue
		}
		if ev.Stage == ProposalSent {
			sentTo = append(sentTo, ev.To)
		}
		if !seen[ev.Stage] {
			seen[ev.Stage] = true
			stages = append(stages, ev.Stage)
		}
	}
	return stages, sentTo
}

func TestProposalTracerFollowsAProposalToApplication(t *testing.T) {
	tracers := map[uint64]*proposalEvents{}
	c := newTestCluster(t, 3, func(cfg *Config) {
		if tracers[cfg.ID] == nil {
			tracers[cfg.ID] = new(proposalEvents)
		}
		cfg.ProposalTracer = tracers[cfg.ID]
	})
	c.campaign(1)
	require.NoError(t, c.propose(1, "a"))
	const index = 3 // snapshot at 1, the leader's empty entry at 2

	stages, sentTo := tracers[1].lifeOf(index)
	assert.Equal(t, []ProposalStage{ProposalProposed, ProposalSent, ProposalAppended,
		ProposalAcknowledged, ProposalCommitted, ProposalApplied}, stages)
	assert.ElementsMatch(t, []uint64{2, 3}, sentTo)
	for _, ev := range *tracers[1] {
		if ev.Stage == ProposalProposed && ev.Index == index {
			assert.Equal(t, ProposalEvent{Stage: ProposalProposed, Node: 1, Term: 1, First: index, Index: index}, ev)
		}
	}
	for _, id := range []uint64{2, 3} {
		stages, sentTo := tracers[id].lifeOf(index)
		assert.Equal(t, []ProposalStage{ProposalAppended, ProposalCommitted, ProposalApplied}, stages, "follower %d", id)
		assert.Empty(t, sentTo)
	}
}

func TestProposalTracerUnsetCostsNoSettings(t *testing.T) {
	rn, err := NewRawNode(newTestConfig(1, 10, 1, newTestStorage(t, voters(1))))
	require.NoError(t, err)
	assert.Nil(t, rn.raft.proposalTracer())
	assert.Nil(t, rn.raft.rare)
}
