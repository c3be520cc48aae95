"""A conversation as alternating turns between a customer and a bot or human agent, with a mood that moves.

Chats and social threads start with a bot and are handed to a human when the customer is unhappy;
emails and voice transcripts go to a human directly. A human's resolution usually lifts the mood, a bot
talking to an angry customer does not. The number of turns is drawn independently of everything else
(uniform 2..10, mean 6) so the engine can size the message stream exactly to the configured mix.
"""

from __future__ import annotations

import math
import random

from cxstream.simulator import corpus, records
from cxstream.simulator.ids import Mint
from cxstream.simulator.records import Record
from cxstream.simulator.world import Agent, World

MIN_TURNS, MAX_TURNS = 2, 10
MEAN_TURNS = (MIN_TURNS + MAX_TURNS) / 2
# Median pause before a customer's next turn, and before a bot's / a human's reply, per channel.
# Email and social are slow, but not as slow as in life: a thread spanning a day would be mostly outside
# any window the jobs look at, and would take hours of event time to reach its share of the traffic.
_CUSTOMER_GAP_MS = {"chat": 25_000, "social": 120_000, "email": 480_000, "voice-transcript": 8_000}
_HUMAN_GAP_MS = {"chat": 30_000, "social": 240_000, "email": 720_000, "voice-transcript": 5_000}
_BOT_GAP_MS = 2_000
_NEEDS_ORDER = ("order_status", "delivery_delay", "refund", "payment")


def _gap(rng: random.Random, median_ms: float) -> int:
    return max(300, min(int(median_ms * 20), int(rng.lognormvariate(math.log(median_ms), 0.6))))


def plan_conversation(rng: random.Random, world: World, mint: Mint, customer_id: str, intent: str, mood: str,
                      channel: str, t0: int, slots: dict[str, str] | None = None,
                      turns: int | None = None) -> list[tuple[int, Record]]:
    slots = dict(slots or {})
    slots.setdefault("name", "")
    human = rng.choice(world.agents)
    slots["name"] = human.name
    bot = rng.choice(world.bots)
    handler: Agent | None = None
    n_turns = turns if turns is not None else rng.randint(MIN_TURNS, MAX_TURNS)
    conversation = mint.short("conv")
    out: list[tuple[int, Record]] = []
    t = t0
    staff_turns = 0
    human_turns = 0
    escalated = False
    resolved = False

    def add(sender: str, agent: Agent | None, text: str) -> None:
        out.append((t, records.message(mint.uuid(), conversation, customer_id, agent.id if agent else None,
                                       channel, sender, text)))

    add("customer", None, corpus.customer_opening(rng, intent, mood, slots))
    for turn in range(1, n_turns):
        if turn % 2:  # staff
            if handler is None:
                handler = bot if channel in ("chat", "social") else human
            if handler.bot:
                t += _gap(rng, _BOT_GAP_MS)
                if staff_turns == 0:
                    add("bot", handler, corpus.bot_line(rng, "greet", intent, slots))
                elif corpus.MOODS.index(mood) <= 1 and not escalated and rng.random() < 0.7:
                    add("bot", handler, corpus.bot_line(rng, "escalate", intent, slots))
                    handler, escalated = human, True
                elif staff_turns == 1 and intent in _NEEDS_ORDER:
                    add("bot", handler, corpus.bot_line(rng, "ask", intent, slots))
                elif not resolved:
                    add("bot", handler, corpus.bot_line(rng, "info", intent, slots))
                    resolved = True
                    if mood != "angry" and rng.random() < 0.5:
                        mood = corpus.shift_mood(mood, 1)
                else:
                    add("bot", handler, corpus.bot_line(rng, "close", intent, slots))
            else:
                t += _gap(rng, _HUMAN_GAP_MS[channel])
                human_turns += 1
                if human_turns == 1:
                    stage = "apologise" if mood == "angry" else "greet"
                    add("agent", handler, corpus.agent_line(rng, stage, intent, slots))
                elif not resolved or (mood in ("angry", "negative") and rng.random() < 0.5):
                    add("agent", handler, corpus.agent_line(rng, "resolve", intent, slots))
                    resolved = True
                    if rng.random() < 0.7:
                        mood = corpus.shift_mood(mood, rng.choice((1, 2)))
                else:
                    add("agent", handler, corpus.agent_line(rng, "close", intent, slots))
            staff_turns += 1
        else:
            t += _gap(rng, _CUSTOMER_GAP_MS[channel])
            if resolved and corpus.MOODS.index(mood) >= 3 and rng.random() < 0.6:
                mood = "thankful"
            add("customer", handler, corpus.customer_followup(rng, mood, slots))
    return out
