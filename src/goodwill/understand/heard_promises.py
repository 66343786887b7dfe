"""Promises and expectations heard in conversation.

``read_commitments`` reads what a company's person wrote and finds each concrete
commitment: the action, who made it, the deadline resolved against the message
time, the exact evidence span and a confidence. ``read_expectations`` reads what a
customer wrote and finds what they say they were told or expected.

It is a grammar of patterns, not a trained model: the only labelled set (1,200
company tweets, 27 promises) is far too small to train on, and a pattern can be
read, argued with and fixed. Its precision and recall, beside a keyword baseline,
are in BENCHMARKS.md.

How vague talk is treated: reassurance ("we're looking into it", "we'll pass your
feedback on", "hopefully soon"), service targets ("we aim to reply within 24
hours") and conditional offers that wait on the customer ("DM us and we'll take a
look") are *not* promises. They are returned as ``reassurances`` with their span,
so the ledger can count them as expectations set, but they never enter the
promise ledger and never count as kept or broken.

Deadlines follow the labelling guide: "N days" are calendar days, "working/
business days" follow a :class:`~goodwill.model.calendar.WorkingCalendar`
(Monday-Friday by default), "tomorrow" is the next calendar day, "end of day" is
17:00, a range resolves to its later end, and "soon", "shortly", "ASAP" are not
deadlines. Dates are resolved in the time zone given (the message's own offset
when the source records one).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from goodwill.model.calendar import WorkingCalendar, add_months

ACTIONS = (
    "refund",
    "call_back",
    "replace",
    "visit",
    "fix",
    "credit",
    "escalate",
    "deliver",
    "send_information",
    "cancel",
    "follow_up",
    "other",
)

_APOS = "['’]"
_MODAL = rf"(?:will|{_APOS}ll|shall|(?:am|are|is|{_APOS}re|{_APOS}m) going to)"
_SUBJECT = (
    r"(?P<subj>\bwe|\bi|\bthey|\bhe|\bshe|\bit|\bsomeone(?: from [\w ]{1,30}?)?|\bsomebody"
    r"|\b(?:a|an|our|the|one of our|a member of (?:our|the))\s+(?:[\w-]+\s+){0,3}?"
    r"(?:team|teams|agents?|specialists?|experts?|engineers?|technicians?|representatives?|"
    r"managers?|colleagues|department|advisors?|courier|driver))"
)
_PROMISE = re.compile(
    rf"{_SUBJECT}\s*{_MODAL}\s+(?:be\s+(?:glad|happy)\s+to\s+)?(?P<verb>(?!not\b)[\w'’-]+(?:\s+[\w'’-]+){{0,8}})",
    re.I,
)
_YOU_WILL = re.compile(
    rf"\byou(?:{_APOS}ll| will| should)\s+(?P<verb>(?:receive|hear back|hear from|be contacted|be called|get (?:a|an|your|the) (?:refund|credit|replacement|call|email|update|response|reply|voucher)|see (?:a|the|your) (?:refund|credit))[\w'’ -]{{0,60}})",
    re.I,
)
_HANDOVER = re.compile(
    rf"\b(?P<subj>i|we)\s*(?:am|are|{_APOS}m|{_APOS}re)\s+(?P<verb>(?:looping|escalating|referring|forwarding|following up|sending|arranging|scheduling|issuing|processing)[\w'’ -]{{0,60}})",
    re.I,
)
_AND_WILL = re.compile(
    rf"\b(?P<subj>we|i)\b[^.!?\n]{{0,60}}?\band (?:will|{_APOS}ll)\s+(?P<verb>(?!not\b)[\w'’-]+(?:\s+[\w'’-]+){{0,8}})",
    re.I,
)
_PASSIVE = re.compile(
    r"\b(?P<subj>(?:a|an|the|your)\s+(?:full\s+|partial\s+)?(?:refund|replacement|credit|voucher|callback|call back|technician|engineer))"
    r"\s+(?:will|shall)\s+be\s+(?P<verb>(?:issued|sent|processed|arranged|made|applied|delivered|shipped|booked|scheduled|with you)\b[\w'’ -]{0,40})",
    re.I,
)
_MATTER_DONE = re.compile(
    r"\b(?P<subj>this|that|your\s+(?:issue|request|concern|case|complaint|query))\s+(?:will|shall)\s+be\s+"
    r"(?P<verb>(?:done|fixed|resolved|sorted|processed|addressed|completed|escalated)\b[\w'’ -]{0,40})",
    re.I,
)
_LET_ME = re.compile(
    r"\blet me (?P<verb>(?:request|escalate|loop|have|get|(?:partner|connect|transfer|refer|put) you)\b[\w'’ -]{0,60})",
    re.I,
)
_HAVE_SOMEONE = re.compile(
    r"\b(?P<subj>i|we)(?:['’]ll| will) have (?:a|an|our|the|someone)\b[\w ]{0,30}?(?P<verb>(?:reach out|contact|call|get in touch|follow up|visit)[\w'’ -]{0,40})",
    re.I,
)

# Reassurance and effort without a commitment to this customer.
_VAGUE_VERB = re.compile(
    r"^(?:(?:take|have)\s+a\s+(?:closer\s+)?look|look(?:ing)?\s+into|look\s+at|check|be\s+(?:looking|working|happy|glad)\b(?!\s+to\s+credit)"
    r"|pass\b|share\b|work(?:ing)?\s+on|keep\s+(?:you|an\s+eye)|try\b|do\s+(?:our|my)\s+best|need\b|have\s+to\b"
    r"|let\s+you\s+know\s+if|continue\s+to\s+(?:monitor|improve)|be\s+(?:able|sure)\b|want\b|like\b|love\b|help\b|assist\b"
    r"|investigate|review\b|monitor|consider|note\b|make\s+sure\s+(?:the|this|your)\s+(?:feedback|comments)|make\s+sure\s+your\s+comments"
    r"|get\s+(?:this|it)\s+(?:reported|passed)|report\b|add\b|let\s+(?:our|the)\s+(?:\w+\s+){1,2}know|forward\s+(?:your|the|this)\s+(?:feedback|comments)"
    r"|keep\s+(?:everything|fingers)|include\b|see\s+what|go\s+from|proceed|keep\s+moving|wait\b|set\b|advise\b"
    r"|be\s+(?:glad|happy)\s+to\s+(?:answer|help|assist|look)|get\s+in\s+touch\s+with\s+(?:our|the)|make\s+sure\s+the\s+\w+\s+(?:feels|knows|hears)"
    r"|get\s+(?:this|it)\s+(?:sorted|straightened\s+out)|make\s+sure\s+to\s+get\s+(?:this|it)\b|update\s+(?:our|the)\b"
    r"|(?:go\s+ahead\s+and\s+)?follow\s+up\s+with\s+(?:our|the|my)\b"
    r"|(?:be\s+)?keep(?:ing)?\s+(?:[\w-]+\s+){0,6}?(?:updated|posted|informed)\b"
    r"|make\s+sure\s+(?:that\s+)?(?:the|this|your|it)\b[^.!?]{0,40}?\b(?:feedback|comments|passed|reaches)\b"
    r"|continue\s+to\s+(?:add|expand|work\s+on|look)\b|have\s+you\s+on\s+your\s+way)",
    re.I,
)
# The customer must act first: a conditional offer, not a promise.
_CONDITION = re.compile(
    r"\b(?:if you|once you(?:['’]ve| have)? (?:dm|sen[dt]|repl|provide|share|confirm|follow|call|contact|get back|reach)"
    r"|when you (?:dm|send|reply|get a chance)|(?:please|pls|plz|kindly|just)\s+(?:\w+\s+)?(?:dm|send|reach|call|contact|follow|reply|shoot|provide|share)"
    r"|^\W*(?:dm|send|shoot|reach out|follow)\b|\bdm us\b|\bsend us\b|so (?:that )?(?:we|i) can|to see if|let us know"
    r"|feel free)",
    re.I,
)
_HEDGE = re.compile(
    r"\b(?:aims?|aiming|strives?|tries|try|hope|hopefully|usually|typically|normally|generally|may|might|confident|sure if|not sure)\b",
    re.I,
)
# A request to the customer, or a question, before the commitment makes it conditional.
_REQUEST = re.compile(
    r"\?|\b(?:dm|send|shoot|contact|message|reach out to|connect with|tell|let)\s+(?:us|me|my team)\b|\b(?:please|pls|plz|kindly)\b(?!\s+(?:be\s+patient|bear\s+with|allow\s+us|wait|stand\s+by))"
    r"|\b(?:select|click|follow|visit|use|go to)\b[^.!?]{0,40}(?:link|https?://|dm)|\bjoin us\b|\blet['’]s\b|\bif\b",
    re.I,
)
_REASSURE = re.compile(
    r"\b(?:(?:we|i)(?:['’]re| are| am|['’]m) (?:looking|working|investigating|aware)|look(?:ing)? into (?:this|it|that)"
    r"|pass (?:this|it|that|your \w+) (?:on|along)|hopefully|as soon as possible|asap|working (?:hard|on)"
    r"|aims? to|keep you (?:posted|updated))",
    re.I,
)
_PAST = re.compile(r"^(?:already|just)\b", re.I)
_GLAD = re.compile(r"\b(?:glad|happy)\s+to\s*$", re.I)
_OFFER_OF_HELP = re.compile(r"(?:answer|help|assist|look|check)\b", re.I)
_ADVERB = re.compile(
    r"^(?:(?:absolutely|definitely|certainly|surely|gladly|happily|also|personally)\s+)+",
    re.I,
)
# "... is shut off tonight, but will be back on tomorrow": the service is the subject left unsaid
_BACK_ON = re.compile(
    rf"\b(?:but|and)\s+(?P<subj>)(?:will|{_APOS}ll)\s+(?P<verb>be\s+(?:turned\s+)?back\s+(?:on|up|online)\b[\w'’ -]{{0,40}})",
    re.I,
)
_PATTERNS = (
    _HAVE_SOMEONE,
    _PROMISE,
    _PASSIVE,
    _MATTER_DONE,
    _AND_WILL,
    _YOU_WILL,
    _HANDOVER,
    _LET_ME,
    _BACK_ON,
)

_ACTION_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (a, re.compile(p, re.I))
    for a, p in (
        ("refund", r"\b(?:refund|reimburs|money back|reembols|estorn)"),
        (
            "call_back",
            r"\b(?:call (?:you|back)|give you a (?:call|ring)|phone you|ring you|call you back|be called)",
        ),
        ("replace", r"\b(?:replac|new one|hook you up with|send (?:you )?(?:a )?new)"),
        (
            "visit",
            r"\b(?:visit|technician|engineer (?:will )?(?:come|call)|send someone (?:out|round)|appointment)",
        ),
        ("credit", r"\b(?:credit|voucher|compensat|discount|goodwill gesture)"),
        (
            "escalate",
            r"\b(?:escalat|alert|partner you|refer|loop|forward|specialist|expert|supervisor|manager|pass (?:your|this) (?:case|concern))",
        ),
        ("cancel", r"\bcancel"),
        (
            "fix",
            r"\b(?:fix|resolv|restor|repair|up and running|be back (?:on|up)|back (?:on|up|online)|working again|sort (?:it|this) out)",
        ),
        (
            "send_information",
            r"\b(?:send (?:you )?(?:the |a |an |more )?(?:details|info|information|link|confirmation|email|instructions)|email you"
            r"|receive (?:an? )?(?:email|confirmation|text|message|notification))",
        ),
        ("deliver", r"\b(?:deliver|receive|ship|arriv|dispatch|points? )"),
        (
            "follow_up",
            r"\b(?:follow(?:ing)? up|be in (?:touch|contact)|get back to|reach out|contact (?:you|me)|hear back|hear from|continue|meet you|update|respond|reply|get in touch|research)",
        ),
    )
)

_WEEKDAY = {
    d: i
    for i, d in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}
_WD = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_NUM = {
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "ten": 10,
    "24": 24,
    "48": 48,
    "72": 72,
}
_N = (
    r"(?P<n>\d{1,3}|one|two|three|four|five|six|seven|ten|an?)(?:\s*(?:-|to|or)\s*(?P<n2>\d{1,3}))?"
)
_DUE = re.compile(
    rf"(?P<range>\b(?:either\s+)?(?:today|tomorrow|tonight)\s+or\s+(?:on\s+)?{_WD}\b)"
    rf"|(?P<within>\b(?:within|in|in the next|over the next)\s+{_N}\s*(?P<unit>(?:business|working)\s+days?|days?|hours?|hrs?|h\b|weeks?|months?))"
    rf"|(?P<eod>\b(?:by\s+)?(?:the\s+)?(?:end of (?:the |business )?day|eod|close of business|cob)\b)"
    rf"|(?P<eow>\b(?:by\s+)?(?:the\s+)?end of (?:the |this )?week\b)"
    rf"|(?P<nextweek>\bnext week\b)"
    rf"|(?P<wday>\b(?:by|on|this|next|before|until)\s+(?P<wdn>{_WD})\b)"
    rf"|(?P<date>\b(?:by|on|before)\s+(?:the\s+)?(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m1>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*|(?P<m2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?)\b)"
    rf"|(?P<day>\b(?:today|tonight|tomorrow)\b)",
    re.I,
)
# Who wrote a company message: support accounts sign with initials or a first name at the end
# (^JS, ^ Ko, ^cr, -Becky, --JV, –SLM, *ZachRicketts, /RB, ~ Vicky, = JJ), after a sign-off
# (TY - James, Ty Andrew, Regards,\nAmruta), or bare after the last sentence (Phil., Rach,
# ...。TY). Links, part markers (2/2) and stray dots after the signature are not part of it.
_SIG_TRAILER = re.compile(r"(?:\s*https?://\S+|\s+\(?\d/\d\)?|\s+\.)\s*$")
_SIG_NAME = r"(?P<sig>[A-Z][A-Za-z]{0,20}|[A-Z](?:\.[A-Z])+\.?)\.?"
_SIGNATURES = (
    # ^ marks a signature whatever follows it, lower-case initials included (BofA: ^cr)
    re.compile(r"\^\s?(?P<sig>[A-Za-z][A-Za-z]{0,20}|[A-Z](?:\.[A-Z])+\.?)\.?$"),
    # a dash, star, tilde, slash or equals sign before the name; a dash straight after a word
    # only before initials or a spaced name ("go-DD", "you- Mariya"), never inside a word
    re.compile(r"(?:(?<![A-Za-z0-9])(?:[-\u2013\u2014]{1,2}|[*~=])|(?<=\s)/)\s?" + _SIG_NAME + "$"),
    re.compile(r"(?<=[A-Za-z])[-\u2013\u2014]{1,2}(?:\s" + _SIG_NAME + "|(?P<caps>[A-Z]{2,3}))$"),
    re.compile(
        r"\b(?:TY|Ty|Regards|Rgds|Kind regards|Best wishes)[,.!]?\s*(?:[-\u2013\u2014]\s*)?"
        + _SIG_NAME
        + "$"
    ),
    # bare: a name after the last sentence's end, or initials after punctuation, a link or CJK text
    re.compile(r"(?:[.!?]|:\)|\))\s+(?P<sig>[A-Z][a-z]{2,15})\.?$"),
    re.compile(r"(?:[.!?:)\]]\s*|https?://\S+\s+|[^\x00-\x7f]\s*)(?P<sig>[A-Z]{2,3})\.?$"),
)
_NOT_NAMES = frozenset(
    [
        "thanks",
        "thank",
        "cheers",
        "enjoy",
        "yes",
        "yeah",
        "no",
        "nope",
        "hi",
        "hello",
        "hey",
        "regards",
        "best",
        "sure",
        "okay",
        "ok",
        "great",
        "done",
        "awesome",
        "congrats",
        "bye",
        "love",
        "welcome",
        "sorry",
        "apologies",
        "please",
        "thx",
        "dm",
    ]
)


def signature(text: str) -> str | None:
    """The name or initials a company message is signed with, or None."""
    s = text.strip()
    while True:
        cut = _SIG_TRAILER.sub("", s).rstrip()
        if cut == s:
            break
        s = cut
    for pat in _SIGNATURES:
        m = pat.search(s)
        if m is None:
            continue
        name = m.group("sig") or m.groupdict().get("caps")
        if name and name.lower() not in _NOT_NAMES:
            return name
    return None


@dataclass(frozen=True)
class HeardPromise:
    action: str
    evidence: str
    start: int
    end: int
    made_by: str  # agent (I), team (we), handed_to (they / a specialist / another team), other
    made_by_text: str
    due: dt.date | dt.datetime | None
    due_text: str | None
    confidence: float
    # the company function that must act to keep it, where the words say (None: the message's own)
    function: str | None = None

    @property
    def due_at(self) -> dt.datetime | None:
        """The deadline as an instant; a day-level deadline ends at midnight (UTC here)."""
        if self.due is None:
            return None
        if isinstance(self.due, dt.datetime):
            return self.due
        return dt.datetime.combine(self.due + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Reading:
    promises: tuple[HeardPromise, ...]
    reassurances: tuple[tuple[int, int, str], ...]
    signature: str | None = None
    due: dt.date | dt.datetime | None = None
    due_text: str | None = None

    @property
    def is_promise(self) -> bool:
        return bool(self.promises)

    @property
    def vague(self) -> bool:
        return not self.promises and bool(self.reassurances)


@dataclass(frozen=True)
class Expectation:
    kind: str  # told (we said so), expected (they expected it), unmet (it has not happened)
    action: str
    evidence: str
    start: int
    end: int


@dataclass
class _Sentence:
    start: int
    text: str
    matches: list[tuple[re.Match[str], str, float]] = field(default_factory=list)


def _sentences(text: str) -> list[_Sentence]:
    out = []
    for m in re.finditer(r"[^.!?\n;]+(?:[.!?;]+|\n|$)", text):
        if m.group().strip():
            out.append(_Sentence(m.start(), m.group()))
    return out


def _action(phrase: str) -> str:
    for name, pat in _ACTION_WORDS:
        if pat.search(phrase):
            return name
    return "other"


def _made_by(subj: str, verb: str = "") -> str:
    s = subj.lower().strip()
    if s == "you":
        # "you should hear back from us" is the team's word; "you'll receive an email" names nobody
        if re.search(r"\bfrom\s+us\b", verb, re.I):
            return "team"
        if re.search(r"\bfrom\s+me\b", verb, re.I):
            return "agent"
        if re.search(r"\bfrom\s+(?:our|the|a|an|one of)\b", verb, re.I):
            return "handed_to"
        return "other"
    if s in ("i", "let me"):
        return "agent"
    if s == "we" or (s.startswith("our ") and s.endswith(("team", "teams", "department"))):
        return "team"
    # "it'll be back on", "this shall be done", "a technician will be alerted": nobody named acts
    if (
        s in ("it", "this", "that")
        or s.startswith("your ")
        or re.match(r"be\s+\w+(?:ed|en)\b", verb)
    ):
        return "other"
    return "handed_to"


# The party named as the one who will act says which function owes the promise (the labelling
# guide's definitions); failing that, what is promised does.
_PARTY_FUNCTION = tuple(
    (re.compile(p, re.I), f)
    for p, f in (
        (r"technician|engineer|station|airport|store|restaurant|on board", "field"),
        (r"courier|driver|fleet|delivery", "delivery"),
        (r"billing|accounts? team|payments? team|finance", "billing"),
        (r"\bsales\b", "sales"),
        (r"developer|\bdevs?\b|product team", "product"),
    )
)


def _function(subj: str, action: str, role: str) -> str | None:
    if subj.lower().strip() not in ("i", "we", "you", "it", "they", "he", "she", "let me"):
        for pat, name in _PARTY_FUNCTION:
            if pat.search(subj):
                return name
    if action in ("refund", "credit"):
        return "billing"
    if action == "visit":
        return "field"
    # "it'll be back on tomorrow": a system restored for everyone, not this customer's case
    if action == "fix" and role == "other":
        return "product"
    return None


def read_commitments(
    text: str,
    made_at: dt.datetime,
    *,
    timezone: str | None = None,
    calendar: WorkingCalendar | None = None,
) -> Reading:
    """Find the concrete commitments in one company message."""
    tz = ZoneInfo(timezone) if timezone else (made_at.tzinfo or dt.UTC)
    local = (made_at if made_at.tzinfo else made_at.replace(tzinfo=dt.UTC)).astimezone(tz)
    cal = calendar or WorkingCalendar.business(getattr(tz, "key", "UTC"))
    promises: list[HeardPromise] = []
    reassurances: list[tuple[int, int, str]] = []
    tweet_due: tuple[dt.date | dt.datetime | None, str | None] = (None, None)
    for sent in _sentences(text):
        body = sent.text
        found = _commitment(text, sent)
        if found is not None:
            m, pat, subj, verb = found
            # the deadline that follows the commitment's words is the one it carries
            due, due_text, _ = resolve_due(body[m.start() :], local, cal)
            if due is None:
                due, due_text, _ = resolve_due(body, local, cal)
            if due is None and len(promises) == 0:
                # "... will be in touch. Expect a call tomorrow." - the deadline may follow
                nxt = text[sent.start + len(body) : sent.start + len(body) + 80]
                due, due_text, _ = resolve_due(nxt.split(".")[0], local, cal)
            action = _action(f"{subj} {verb}" if pat is _PASSIVE else verb)
            if pat is _HAVE_SOMEONE or (pat is _LET_ME and action in ("other", "follow_up")):
                action = "escalate"
            if pat is _MATTER_DONE and re.match(
                r"(?:fixed|resolved|sorted|addressed)\b", verb, re.I
            ):
                action = "fix"
            conf = _BASE[pat] - (0.15 if re.search(r"\bshould\b", m.group(), re.I) else 0.0)
            conf -= 0.1 if action == "other" else 0.0
            a_start = sent.start + m.start()
            span_text = text[a_start : sent.start + m.end()].rstrip(" ,")
            promises.append(
                HeardPromise(
                    action=action,
                    evidence=span_text,
                    start=a_start,
                    end=a_start + len(span_text),
                    made_by=(role := _made_by(subj, verb)),
                    made_by_text=subj.strip(),
                    due=due,
                    due_text=due_text,
                    confidence=round(max(conf, 0.3), 2),
                    function=_function(subj, action, role),
                )
            )
            if tweet_due[0] is None and due is not None:
                tweet_due = (due, due_text)
            continue
        r = _REASSURE.search(body)
        if r is not None or _CONDITION.search(body) or _commitment(text, sent, conditional=True):
            lo, hi = (r.start(), r.end()) if r is not None else (0, len(body.rstrip()))
            reassurances.append(
                (sent.start + lo, sent.start + hi, text[sent.start + lo : sent.start + hi])
            )
            if tweet_due[0] is None and r is not None:
                due, due_text, _ = resolve_due(body, local, cal)
                if due is not None and not re.fullmatch(r"(?i)today|tonight", due_text or ""):
                    tweet_due = (due, due_text)
    return Reading(tuple(promises), tuple(reassurances), signature(text), *tweet_due)


_BASE: dict[re.Pattern[str], float] = {
    _HAVE_SOMEONE: 0.85,
    _PROMISE: 0.85,
    _PASSIVE: 0.8,
    _AND_WILL: 0.8,
    _YOU_WILL: 0.75,
    _HANDOVER: 0.7,
    _LET_ME: 0.7,
    _BACK_ON: 0.75,
    _MATTER_DONE: 0.7,
}


def _commitment(
    text: str, sent: _Sentence, *, conditional: bool = False
) -> tuple[re.Match[str], re.Pattern[str], str, str] | None:
    """The first commitment in a sentence. With ``conditional`` true, find one that a request
    to the customer or a hedge turns into a conditional offer (vague), instead."""
    body = sent.text
    for pat in _PATTERNS:
        for m in pat.finditer(body):
            verb = m.group("verb")
            subj = m.groupdict().get("subj") or (
                "let me" if pat is _LET_ME else "it" if pat is _BACK_ON else "you"
            )
            s_low = subj.lower().strip()
            if s_low == "it" and not re.match(
                r"be (?:turned )?back|be (?:fixed|restored|delivered|ready|credited|refunded)",
                verb,
                re.I,
            ):
                continue
            if s_low in ("he", "she", "they") and pat is _PROMISE and _action(verb) == "other":
                continue
            # "we'll absolutely pass on your feedback" is as vague as "we'll pass it on"
            core = _ADVERB.sub("", verb)
            if _VAGUE_VERB.match(core) or _PAST.match(core):
                continue
            # "I will be glad to answer any questions": an offer of help, however it is phrased
            if _GLAD.search(m.group()[: m.start("verb") - m.start()]) and _OFFER_OF_HELP.match(
                core
            ):
                continue
            before = text[: sent.start + m.start()]
            blocked = bool(
                _REQUEST.search(before)
                or _HEDGE.search(body[: m.start()])
                or _CONDITION.search(body[: m.start()])
            )
            blocked = blocked or bool(re.search(r"\b(?:aims?|try|tries) to\b", body, re.I))
            if blocked == conditional:
                return m, pat, subj, verb
    return None


def _action_strict(verb: str) -> bool:
    return _action(verb) not in ("other",)


def resolve_due(
    text: str, made_at: dt.datetime, calendar: WorkingCalendar | None = None
) -> tuple[dt.date | dt.datetime | None, str | None, tuple[int, int] | None]:
    """The first deadline stated in ``text``, resolved against ``made_at`` (a local, aware time).

    Returns a date for day-level deadlines, an aware datetime for hour-level ones, the
    exact text, and its span; ``(None, None, None)`` when no deadline is stated.
    """
    cal = calendar or WorkingCalendar.business()
    today = made_at.date()
    for m in _DUE.finditer(text):
        g = m.lastgroup
        resolved: dt.date | dt.datetime | None = None
        if g == "range":
            wd = _weekday(re.search(_WD + r"\b\W*$", m.group(), re.I).group())  # type: ignore[union-attr]
            first = today + dt.timedelta(days=1 if "tomorrow" in m.group().lower() else 0)
            resolved = max(first, _next_weekday(today, wd, allow_today=False))
        elif g == "within":
            n = _to_int(m.group("n2") or m.group("n"))
            unit = m.group("unit").lower()
            if unit.startswith(("business", "working")):
                resolved = cal.add_business_days(today, n)
            elif unit.startswith("day"):
                resolved = today + dt.timedelta(days=n)
            elif unit.startswith("week"):
                resolved = today + dt.timedelta(weeks=n)
            elif unit.startswith("month"):
                resolved = add_months(today, n)
            else:
                resolved = (made_at + dt.timedelta(hours=n)).replace(microsecond=0)
        elif g == "eod":
            resolved = made_at.replace(hour=17, minute=0, second=0, microsecond=0)
            if resolved < made_at:
                resolved = today
        elif g == "eow":
            resolved = today + dt.timedelta(days=max(0, 4 - today.weekday()))
        elif g == "nextweek":
            resolved = today + dt.timedelta(days=7 - today.weekday() + 6)
        elif g == "wday":
            nxt = m.group().lower().startswith("next")
            resolved = _next_weekday(today, _weekday(m.group("wdn")), allow_today=not nxt)
        elif g == "date":
            month = _MONTHS[(m.group("m1") or m.group("m2")).lower()[:3]]
            day = int(m.group("d1") or m.group("d2"))
            try:
                cand = dt.date(today.year, month, day)
            except ValueError:
                continue
            resolved = cand if cand >= today else dt.date(today.year + 1, month, day)
        elif g == "day":
            resolved = today + dt.timedelta(days=1 if m.group().lower() == "tomorrow" else 0)
        if resolved is not None:
            return resolved, m.group().strip(), (m.start(), m.end())
    return None, None, None


def _weekday(word: str) -> int:
    w = word.lower()
    for name, i in _WEEKDAY.items():
        if w.startswith(name[:3]):
            return i
    raise ValueError(word)


def _next_weekday(today: dt.date, wd: int, *, allow_today: bool) -> dt.date:
    ahead = (wd - today.weekday()) % 7
    if ahead == 0 and not allow_today:
        ahead = 7
    return today + dt.timedelta(days=ahead)


def _to_int(word: str) -> int:
    return int(word) if word.isdigit() else _NUM[word.lower()]


# -- what customers say they were told or expected --------------------------------------

_EXPECT = tuple(
    (kind, re.compile(p, re.I))
    for kind, p in (
        (
            "told",
            r"\b(?:(?:you|they|he|she|the (?:agent|rep|representative|seller|store)|your (?:agent|rep|team|staff|website|site)|i was|we were|was)\s+(?:said|told|promised|assured|guaranteed|quoted)\b[^.!?\n]{0,80})",
        ),
        (
            "told",
            r"\b(?:disseram|falaram|prometeram|prometido|garantiram|informaram)\b[^.!?\n]{0,80}",
        ),
        (
            "expected",
            r"\b(?:(?:was|were|is|are) (?:supposed|meant|due|scheduled) to|should have (?:been|arrived|received|got)|expected (?:it|my|the|to|a)|estimated)\b[^.!?\n]{0,80}",
        ),
        (
            "expected",
            r"\b(?:era para|deveria(?:m)? ter|previst[ao]|prazo|data (?:estimada|prevista)|dentro do prazo|antes do prazo)\b[^.!?\n]{0,80}",
        ),
        (
            "unmet",
            r"\b(?:still (?:waiting|haven['’]?t|have not|no)|(?:haven['’]?t|have not|hasn['’]?t|has not|never) (?:received|got|gotten|heard|arrived|come|been)|no (?:one|body) (?:called|got back|came)|never (?:called|came|showed))\b[^.!?\n]{0,80}",
        ),
        (
            "unmet",
            # "n" is how many reviews write "não"; verb forms of atrasar/demorar, partial
            # deliveries ("só veio", "faltou") and waiting ("aguardo") are the same complaint.
            # A negated delay ("sem atraso", "não demorou") is a met expectation, not an unmet one.
            r"\b(?:(?:ainda )?n(?:[ãa]o|ao)? (?:me |o |a |os |as |tenha |foi |foram )?(?:recebi\w*|recebido|recebemos|chegou|chegaram|entregue|entregues|entregaram|entregarem|veio|vieram)"
            r"|(?<!sem )(?<!n[ãa]o )(?<!nenhum )(?:atras(?:o|ou|aram|ad[oa]s?)|demor(?:ou|a|ad[oa]|aram))"
            r"|aguardando|(?:no )?aguardo|esperando|at[ée] (?:agora|o momento) nada|nunca chegou"
            r"|(?:s[óo]|somente|apenas) (?:\w+ ){0,3}?(?:veio|vieram|chegou|chegaram|recebi|entregue|entregaram)"
            r"|(?:veio|vieram|chegou|chegaram|recebi|entregaram) (?:s[óo]|somente|apenas)|falt(?:a|ou|aram|ando))\b[^.!?\n]{0,80}",
        ),
    )
)
_EXPECT_ACTION = (
    (
        "refund",
        re.compile(
            r"refund|money back|reembols|estorno|devolu[çc][ãa]o do (?:dinheiro|valor)", re.I
        ),
    ),
    ("call_back", re.compile(r"call(?:ed)? (?:me |us )?back|call me|ligar|ligação", re.I)),
    ("visit", re.compile(r"technician|engineer|visit|appointment|showed up|came out", re.I)),
    ("fix", re.compile(r"fix|repair|resolv|working|consert|resolv", re.I)),
    ("reply", re.compile(r"heard|response|reply|answer|got back|email|resposta", re.I)),
    (
        "deliver",
        re.compile(
            r"arriv|deliver|receiv|ship|package|order|entreg|cheg|receb|produto|pedido|prazo|previst|envi|atras|demor|falt|veio|vieram",
            re.I,
        ),
    ),
    ("credit", re.compile(r"credit|voucher|discount|desconto", re.I)),
)


def read_expectations(text: str) -> list[Expectation]:
    """What a customer says they were told, expected, or are still waiting for."""
    out: list[Expectation] = []
    taken: list[tuple[str, int, int]] = []
    for kind, pat in _EXPECT:
        for m in pat.finditer(text):
            if any(k == kind and m.start() < b and a < m.end() for k, a, b in taken):
                continue
            taken.append((kind, m.start(), m.end()))
            phrase = m.group()
            action = next((a for a, p in _EXPECT_ACTION if p.search(phrase)), "other")
            out.append(
                Expectation(
                    kind, action, phrase.strip(), m.start(), m.start() + len(phrase.rstrip())
                )
            )
    out.sort(key=lambda e: e.start)
    return out


# -- the simple baseline the grammar is measured against --------------------------------

_KEYWORDS = re.compile(
    r"\b(?:we will|we['’]ll|i will|i['’]ll|will be in touch|will follow up|will contact)\b", re.I
)


def keyword_baseline(text: str, made_at: dt.datetime) -> Reading:
    """Any "we will / I'll" is a promise; the action is the first action word; the deadline is
    "today"/"tomorrow" only. What a first attempt looks like, kept for comparison."""
    m = _KEYWORDS.search(text)
    if not m:
        return Reading((), ())
    low = text.lower()
    due: dt.date | None = None
    due_text = None
    if "tomorrow" in low:
        due, due_text = made_at.date() + dt.timedelta(days=1), "tomorrow"
    elif "today" in low:
        due, due_text = made_at.date(), "today"
    p = HeardPromise(
        _action(text[m.start() :]),
        m.group(),
        m.start(),
        m.end(),
        "team",
        m.group(),
        due,
        due_text,
        0.5,
    )
    return Reading((p,), (), None, due, due_text)


__all__ = [
    "ACTIONS",
    "Expectation",
    "HeardPromise",
    "Reading",
    "keyword_baseline",
    "read_commitments",
    "read_expectations",
    "resolve_due",
]
