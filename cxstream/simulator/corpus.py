"""English sentences for conversation turns, with a known mood, so the sentiment job meets real language
and tests have ground truth.

Customer lines are indexed by (intent, mood); agent and bot lines by stage (and intent where the content
depends on it). Templates have slots ({order}, {item}, {amount}, …) filled from the conversation's own
facts or, failing that, plausible random values; a few hundred templates times the fillers give many
thousands of distinct sentences. `mood_of` maps a generated customer sentence back to its template's
mood, which makes this module an oracle for sentiment tests.
"""

from __future__ import annotations

import random
import re
from functools import cache

MOODS = ("angry", "negative", "neutral", "positive", "thankful")
INTENTS = ("order_status", "delivery_delay", "refund", "payment", "checkout_problem", "product_question",
           "flight_delay", "praise")

_CUSTOMER_OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "order_status": {
        "neutral": (
            "Hi, can you tell me where my order {order} is?",
            "Hello, I ordered the {item} {when} and haven't had a shipping update yet.",
            "Could you check the status of order {order}, please?",
            "Is there a tracking number for my order {order}?",
            "When will my {item} be delivered?",
            "Hi there, has order {order} left the warehouse yet?",
        ),
        "negative": (
            "My order {order} still hasn't arrived and the tracking page hasn't changed in {days}.",
            "I was told the {item} would arrive {when}, but nothing has come.",
            "I'm getting a bit worried, order {order} shows no movement at all.",
            "The tracking link for {order} just says 'label created', which isn't very reassuring.",
        ),
        "angry": (
            "Where is my order?! I paid {amount} {when} and still nothing.",
            "This is ridiculous, order {order} was supposed to be here {days} ago!",
            "I've contacted you three times about {order} and nobody gives me a straight answer.",
            "Seriously, how hard is it to deliver one {item}? Order {order} is missing.",
        ),
        "positive": (
            "Hi! Just checking when order {order} will ship, really looking forward to it.",
            "Hello, quick question about my order {order}, I'm excited to get the {item}!",
        ),
    },
    "delivery_delay": {
        "neutral": (
            "I saw that order {order} is delayed. Is there a new delivery date?",
            "Can you confirm the new delivery estimate for the {item}?",
            "My parcel is showing a delay with {carrier}, do you know anything more?",
        ),
        "negative": (
            "I just got an email saying my order {order} is delayed by {days}. That's disappointing.",
            "The {item} was meant to arrive {when} and now it's delayed again.",
            "My delivery keeps getting pushed back, what's going on with {order}?",
            "The courier says {carrier} has my parcel on hold, can you find out why?",
            "I planned my week around this delivery and now it's late, not great.",
        ),
        "angry": (
            "Delayed AGAIN? I needed the {item} for this weekend, this is unacceptable.",
            "Your delivery service is a joke, order {order} is {days} late.",
            "I want to know why nobody told me order {order} would be this late.",
            "I took a day off work to wait for this delivery and it never came. Unbelievable.",
        ),
    },
    "refund": {
        "neutral": (
            "I'd like to return the {item} and get a refund, how do I do that?",
            "Can you tell me when my refund for order {order} will be processed?",
            "I sent the {item} back {when}. Has the return been received?",
            "Do I need the original packaging to return the {item}?",
        ),
        "negative": (
            "I returned the {item} {days} ago and still haven't seen the refund of {amount}.",
            "The refund you promised for order {order} never showed up on my card.",
            "I was charged a restocking fee I wasn't told about, I'm not happy.",
            "Only part of my refund came through, I'm still missing {amount}.",
        ),
        "angry": (
            "I want my {amount} back now. This has dragged on for far too long.",
            "Stop sending me automated replies and refund order {order}!",
            "Three weeks and no refund. I'm reporting this to my bank.",
            "You were happy to take my money fast enough, where is my refund?",
        ),
    },
    "payment": {
        "neutral": (
            "Which payment methods do you accept for orders over {amount}?",
            "Can I split the payment for order {order} between two cards?",
            "Is it possible to pay with {card}?",
            "Do you offer instalments for the {item}?",
        ),
        "negative": (
            "My {card} payment was declined but I know there's money on the card.",
            "I think I was charged twice for order {order}, I see two payments of {amount}.",
            "The payment page keeps timing out when I try to pay.",
            "My card was charged but I never got an order confirmation.",
        ),
        "angry": (
            "You charged me {amount} twice and nobody is answering my emails!",
            "Your payment system took my money and the order doesn't exist. Fix this now.",
            "Declined for the fifth time with {card}, I'm sick of this.",
        ),
    },
    "checkout_problem": {
        "neutral": (
            "Is there a problem with the checkout right now? It's very slow.",
            "The checkout asks for a postcode format I don't recognise, what should I enter?",
            "Can I change the delivery address after I've started the checkout?",
        ),
        "negative": (
            "I tried to pay for my basket but the checkout keeps failing.",
            "The checkout page shows an error every time I press 'Place order'.",
            "I added the {item} to my cart but it disappeared at checkout.",
            "The promo code won't apply at checkout and I can't finish my order.",
            "I got an error on the payment step and now I don't know if I've been charged.",
        ),
        "angry": (
            "I've clicked the pay button ten times and nothing happens, this is so frustrating!",
            "Your website is broken, I can't check out and I've wasted half an hour.",
            "Why does your checkout crash every single time? I'm about to give up.",
            "Honestly, I'm done trying, your checkout is a mess.",
            "Error after error at checkout. Do you even want my money?",
        ),
    },
    "product_question": {
        "neutral": (
            "Does the {item} come in other colours?",
            "Is the {item} in stock at the city centre store?",
            "What's the warranty on the {item}?",
            "Can you tell me the dimensions of the {item}?",
            "Will the {item} be back in stock soon?",
            "Does the {item} work with the older model?",
        ),
        "positive": (
            "I love the {item}! Do you have a matching accessory?",
            "The {item} looks great, is there a bundle deal?",
            "Hi there, I'm thinking of buying the {item} as a gift, any recommendations?",
        ),
        "negative": (
            "The {item} description says one thing and the photos show another, which is right?",
            "I was about to buy the {item} but the price went up overnight, why?",
            "The {item} I ordered feels much cheaper than it looked online.",
        ),
    },
    "flight_delay": {
        "neutral": (
            "I see flight {flight} is delayed, will I still make my connection?",
            "Can you tell me the new departure time for {flight}?",
            "Is there an update on flight {flight} from {route}?",
        ),
        "negative": (
            "My flight {flight} from {route} is delayed by {delay}, what are my options?",
            "Flight {flight} is delayed {delay} and I have a meeting on arrival. Can I be rebooked?",
            "I've been at the gate for ages, the {flight} delay is really inconvenient.",
            "The {delay} delay on {flight} means I'll miss my connection, what now?",
        ),
        "angry": (
            "A {delay} delay on {flight} with no explanation? This is unacceptable.",
            "I paid for a premium ticket and I'm stuck at the airport for {delay}. I expect compensation.",
            "Nobody at the gate can tell us anything about {flight}, I'm furious.",
        ),
    },
    "praise": {
        "positive": (
            "Really happy with my {item}, will definitely order again.",
            "Your new app is much faster, well done.",
            "Delivery was quicker than expected, very impressed.",
        ),
        "thankful": (
            "Thanks so much, the {item} arrived early and it's perfect!",
            "Just wanted to say thank you, checkout was quick and easy.",
            "Great service today, thank you for sorting out my order so fast.",
            "Thank you! The refund came through already.",
            "Thanks a lot, the {item} is exactly what I wanted.",
        ),
    },
}

_CUSTOMER_FOLLOWUPS: dict[str, tuple[str, ...]] = {
    "angry": (
        "That's not good enough.",
        "I've heard that before.",
        "Can I speak to a real person, please?",
        "I'm seriously considering cancelling everything.",
        "This is the worst customer service I've ever had.",
        "You keep saying that but nothing changes!",
        "I don't want another apology, I want it fixed.",
        "Are you even reading what I write?",
    ),
    "negative": (
        "That doesn't really help me.",
        "OK, but how long will that take?",
        "I'm still not sure that solves it.",
        "I already tried that and it didn't work.",
        "It's a bit disappointing, to be honest.",
        "Fine, but I'd rather not wait another {days}.",
        "Hmm, that's not what I was told last time.",
    ),
    "neutral": (
        "OK, thanks.",
        "Sure, it's {order}.",
        "Let me check and get back to you.",
        "Could you email me the details?",
        "Alright, I'll wait for the update.",
        "Yes, that's the right address.",
        "The order number is {order}.",
        "It was the {item}.",
    ),
    "positive": (
        "That sounds great, thanks.",
        "Perfect, that works for me.",
        "Brilliant, appreciate the quick reply.",
        "Great, that's exactly what I needed.",
        "Nice, that's a relief.",
    ),
    "thankful": (
        "Thank you so much for your help!",
        "Thanks, you've been really helpful.",
        "Much appreciated, have a great day!",
        "Cheers, that sorted it.",
        "Thanks {name}, that's brilliant.",
    ),
}

_BOT: dict[str, tuple[str, ...]] = {
    "greet": (
        "Hi, I'm the virtual assistant. I can help with orders, returns and payments.",
        "Hello! Let me look into that for you.",
        "Thanks for reaching out. I'm an automated assistant and I'll do my best to help.",
    ),
    "ask": (
        "Could you share your order number, please?",
        "Can you confirm the email address on your account?",
        "Which item is this about?",
        "Could you tell me roughly when you placed the order?",
    ),
    "escalate": (
        "I'm connecting you with a member of our team now.",
        "Let me hand you over to a colleague who can help further.",
        "I understand this is frustrating. A human agent will join shortly.",
    ),
    "close": (
        "Is there anything else I can help with?",
        "Glad I could help. Have a nice day!",
    ),
}

_BOT_INFO: dict[str, tuple[str, ...]] = {
    "order_status": ("Your order {order} has shipped and is expected within {days}.",
                     "I can see order {order} is being prepared at our warehouse."),
    "delivery_delay": ("I'm sorry, order {order} is delayed at the carrier. The new estimate is {eta}.",
                       "{carrier} reports a delay on your parcel; it should arrive {eta}."),
    "refund": ("Refunds are usually processed within 5 to 7 working days of receiving the item.",
               "Your return for order {order} is registered; the refund follows once it's inspected."),
    "payment": ("I can see a pending authorisation of {amount}; it should drop off within 3 days.",
                "We accept cards, PayPal and bank transfer."),
    "checkout_problem": ("Sorry about that. Please try clearing your browser cache or using the app.",
                         "We're aware of a checkout issue and our team is working on it."),
    "product_question": ("The {item} is currently available in three colours.",
                         "The {item} comes with a two-year warranty."),
    "flight_delay": ("Flight {flight} now departs {delay} late. You can rebook free of charge in the app.",
                     "I can see {flight} is delayed. You'll get a notification when boarding starts."),
    "praise": ("Thank you for the kind words! We're glad you're happy.",
               "That's great to hear, thanks for letting us know!"),
}

_AGENT: dict[str, tuple[str, ...]] = {
    "greet": (
        "Hi, this is {name}, I'm sorry to hear about this. Let me take a look.",
        "Hello, {name} here. I've read the conversation so far.",
        "Thanks for your patience, my name is {name} and I'll help you today.",
        "Good to meet you, I'm {name}. Let me check your account.",
    ),
    "apologise": (
        "I completely understand your frustration and I'm sorry.",
        "You're right, that isn't the experience we want you to have.",
        "I apologise, let me make this right.",
        "I'm really sorry, that shouldn't have happened.",
    ),
    "close": (
        "Is there anything else I can help you with?",
        "Thanks for your patience today.",
        "Have a lovely day!",
        "I'm sorry again for the trouble, take care.",
    ),
}

_AGENT_RESOLVE: dict[str, tuple[str, ...]] = {
    "order_status": ("I've checked with the warehouse, order {order} will be delivered {eta}.",
                     "Your order {order} is with {carrier} and out for delivery {eta}."),
    "delivery_delay": ("I've upgraded your shipping to express at no cost, it should arrive {eta}.",
                       "I'm sorry for the delay, I've added a {voucher} voucher to your account."),
    "refund": ("I've issued the refund of {amount} today; you'll see it within 3 working days.",
               "I've pushed your refund through manually, you'll get a confirmation email shortly."),
    "payment": ("I can confirm the duplicate charge of {amount} has been reversed.",
                "The payment went through on our side; I've resent your order confirmation."),
    "checkout_problem": ("We had a technical issue on checkout, it's fixed now. I've saved your basket.",
                         "I can place the order for you over the phone if you like."),
    "product_question": ("The {item} is back in stock next week; I can reserve one for you.",
                         "Yes, the {item} works with the older model as well."),
    "flight_delay": ("I've rebooked you on the next available flight and added lounge access.",
                     "You're entitled to compensation for the {delay} delay; I've started the claim."),
    "praise": ("That's lovely to hear, I'll pass it on to the team.",
               "Thank you, it made our day!"),
}

_FILLERS: dict[str, tuple[str, ...]] = {
    "days": ("two days", "three days", "four days", "a week", "over a week", "five days", "ten days"),
    "when": ("yesterday", "on Monday", "last week", "this morning", "on Friday", "ten days ago",
             "last month"),
    "eta": ("tomorrow", "by Thursday", "within two days", "early next week", "by the weekend", "on Monday"),
    "card": ("Visa", "Mastercard", "PayPal", "Amex", "Apple Pay", "my debit card"),
    "carrier": ("DHL", "UPS", "DPD", "FedEx", "the local courier", "Royal Mail"),
    "voucher": ("10 euro", "15%", "20 euro", "free-shipping"),
    "delay": ("2 hours", "3 hours", "90 minutes", "45 minutes", "4 hours"),
    "item": ("headphones", "smartwatch", "running shoes", "coffee grinder", "rain jacket", "suitcase"),
    "amount": ("49.99 EUR", "129.00 GBP", "89.50 USD", "19.99 EUR", "340.00 EUR"),
    "flight": ("BA117", "LH454", "AF006", "KL427"),
    "route": ("London to New York", "Frankfurt to San Francisco", "Paris to New York"),
    "name": ("Sam", "Priya", "Lukas", "Maria"),
}


class _Slots(dict[str, str]):
    """Missing slots get a random plausible value, so every template renders."""

    def __init__(self, rng: random.Random, given: dict[str, str]) -> None:
        super().__init__(given)
        self._rng = rng

    def __missing__(self, key: str) -> str:
        if key == "order":
            return f"#{self._rng.choice('ABCDEFGH')}{self._rng.randrange(100000, 999999)}"
        value = self._rng.choice(_FILLERS[key])
        self[key] = value  # the same conversation keeps talking about the same thing
        return value


def render(rng: random.Random, template: str, slots: dict[str, str]) -> str:
    return template.format_map(_Slots(rng, slots))


def _nearest(table: dict[str, tuple[str, ...]], mood: str) -> tuple[str, ...]:
    if mood in table:
        return table[mood]
    order = sorted(table, key=lambda m: abs(MOODS.index(m) - MOODS.index(mood)))
    return table[order[0]]


def customer_opening(rng: random.Random, intent: str, mood: str, slots: dict[str, str]) -> str:
    return render(rng, rng.choice(_nearest(_CUSTOMER_OPENERS[intent], mood)), slots)


def customer_followup(rng: random.Random, mood: str, slots: dict[str, str]) -> str:
    return render(rng, rng.choice(_CUSTOMER_FOLLOWUPS[mood]), slots)


def bot_line(rng: random.Random, stage: str, intent: str, slots: dict[str, str]) -> str:
    options = _BOT_INFO[intent] if stage == "info" else _BOT[stage]
    return render(rng, rng.choice(options), slots)


def agent_line(rng: random.Random, stage: str, intent: str, slots: dict[str, str]) -> str:
    options = _AGENT_RESOLVE[intent] if stage == "resolve" else _AGENT[stage]
    return render(rng, rng.choice(options), slots)


def shift_mood(mood: str, steps: int) -> str:
    """Move along angry … thankful, clamped at the ends."""
    i = min(max(MOODS.index(mood) + steps, 0), len(MOODS) - 1)
    return MOODS[i]


def template_count() -> int:
    customer = sum(len(v) for d in _CUSTOMER_OPENERS.values() for v in d.values())
    customer += sum(len(v) for v in _CUSTOMER_FOLLOWUPS.values())
    tables = (*_BOT.values(), *_BOT_INFO.values(), *_AGENT.values(), *_AGENT_RESOLVE.values())
    staff = sum(len(v) for v in tables)
    return customer + staff


@cache
def _mood_patterns() -> list[tuple[re.Pattern[str], str]]:
    out: list[tuple[re.Pattern[str], str]] = []
    templates = [(t, mood) for d in _CUSTOMER_OPENERS.values() for mood, ts in d.items() for t in ts]
    templates += [(t, mood) for mood, ts in _CUSTOMER_FOLLOWUPS.items() for t in ts]
    for template, mood in templates:
        parts = re.split(r"\{\w+\}", template)
        out.append((re.compile(".+?".join(re.escape(p) for p in parts) + r"\Z"), mood))
    return out


def mood_of(text: str) -> str | None:
    """The mood of the template a customer sentence came from (None when it is not one of ours)."""
    for pattern, mood in _mood_patterns():
        if pattern.match(text):
            return mood
    return None
