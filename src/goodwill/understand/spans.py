"""Expectations and effort heard in a customer's words, as tagged spans.

Kinds:

- ``expectation``: what the customer was told, promised or offered, or what was supposed to /
  should have happened ("I was told I'd get a refund by now", "the agent stated it would be
  corrected", "they agreed to waive it", "should not have been charged", "as advertised").
  Being *not* told ("I was never told about the fee") is not an expectation: nothing was said
  that could be kept or broken.
- ``repeat_contact``: contacting the company more than once about the issue ("third time I'm
  calling", "I have contacted Mohela numerous times", "my second complaint", "previously
  disputed", "called them back", "I keep opening disputes").
- ``effort``: time or work spent on the problem ("on hold for 2 hours", "it has been six months
  since", "over 30 days and still", "transferred me to another department", "referred me to the
  other company", "to no avail", "unable to reach anyone", "had to drive to the branch").

The tagger is a list of patterns built from small parts (who speaks, contact verbs, counts,
durations) rather than a list of phrases, so that it carries to texts nobody has read. A span
runs from the cue to the end of its clause (at most ~120 characters), so a promise measure can
read what was expected. Its quality, on a development set and an untouched test set, is in
``benchmarks/results/understand_spans.md``.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pyarrow as pa

from goodwill.ingest.redact import trim
from goodwill.understand.embed import texts_of
from goodwill.understand.stages import TextSpans

__all__ = ["KeywordSpanTagger", "PatternSpanTagger"]

# -- parts ---------------------------------------------------------------------------------


def _words(words: str) -> str:
    """``"over|more than|a few"`` as a regex that branches letter by letter.

    Python's ``re`` tries the alternatives of ``(?:a|b|c)`` one after another at every
    position; a tree of the words' letters fails on the first letter instead, which makes the
    tagger several times faster on long texts. A space in a word matches any whitespace.
    """
    tree: dict[str, dict] = {}
    for w in words.split("|"):
        node = tree
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        kids = [(ch, sub) for ch, sub in sorted(node.items()) if ch]
        if not kids:
            return ""
        parts = [(r"\s+" if ch == " " else re.escape(ch)) + build(sub) for ch, sub in kids]
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return "(?:" + body + ")?" if "" in node else body

    return "(?:" + build(tree) + ")"


_CLAUSE = r"[^.!?;\n]{0,120}"
# A few words inside one clause (no sentence punctuation), for cues split by an object.
_GAP = r"(?:\s+[^\s.!?;]+){0,%d}?"

# CFPB narratives mask numbers as XXXX; "a few" and "several" are counts too.
_NUM = (
    # "2-3", "4 1/2", "30+" are counts too.
    r"(?:\d+(?:[.,]\d+)?(?:\s+\d/\d)?\+?(?:\s*(?:-|to|or)\s*\d+)?|"
    + _words(
        "xxxx|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
        "forty|fifty|sixty|ninety|a hundred|hundreds of|several|many|multiple|numerous|countless|a few|few|"
        "a couple of|couple of|a couple|couple|some"
    )
    + r")"
)
_ORD = (
    r"(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(?:st|nd|rd|th)|"
    r"umpteenth|hundredth|millionth|another)"
)
_UNIT = _words(
    "minute|minutes|min|mins|hour|hours|hr|hrs|day|days|business day|business days|calendar day|calendar days|"
    "full day|full days|whole day|whole days|entire day|entire days|week|weeks|month|months|year|years|yr|yrs"
)
_ABOUT = (
    r"(?:"
    + _words("over|almost|nearly|more than|about|around|roughly|close to|well over|at least|a full|an entire|a whole|the past|the last")
    + r"\s+)?"
)
_DURATION = _ABOUT + r"(?:" + _NUM + r"[\s-]*)?" + _UNIT + r"\b"

# Who speaks for the company: a pronoun, "the agent", or a name ("Mohela", "Bank of the
# West", "XXXX XXXX"). Names are matched case-sensitively inside the case-blind patterns.
_STAFF = (
    r"(?:agents?|reps?|representatives?|associates?|advisors?|advisers?|supervisors?|managers?|"
    r"specialists?|employees?|staff|person|lady|man|woman|guy|customer service|support|company|"
    r"bank|lender|servicer|creditor|collector|agency|department|office|store|dealer(?:ship)?|"
    r"team|airline|crew|caller|operator)"
)
# "I", "We" and "My" are the customer, not a name.
_CAP = r"(?:(?!(?:I|We|My|Our|Me|Us|AND|OR)\b)[A-Z][\w&'-]*(?:\.(?=\w))?|XXXX)"
_NAME = r"(?-i:[\"'\u201c]?\s*" + _CAP + r"(?:\s+(?:of\s+(?:the\s+)?)?" + _CAP + r"){0,3})"
_WHO = (
    r"(?:they|he|she|you|who|(?:the|their|your|a|an|this|that|one|another|his|her)\s+(?:\w+\s+){0,2}?"
    + _STAFF
    + r"|"
    + _NAME
    + r")"
)
# Documents that make claims ("the email clearly states ...").
_DOC = (
    r"(?:e-?mails?|letters?|notices?|notifications?|brochures?|websites?|web ?site|site|page|"
    r"prompt|messages?|texts?|agreements?|contracts?|polic(?:y|ies)|terms|disclosures?|ads?|"
    r"advert(?:isement)?s?|calculator|confirmation|app|recording|voicemail)"
)
_SPEECH = (
    r"(?:said|says|saying|stated|states|stating|told\s+(?:me|us)|tells\s+(?:me|us)|telling\s+(?:me|us)|"
    r"informed\s+(?:me|us)|advised\s+(?:me|us)|assured\s+(?:me|us)|confirmed|indicated|explained|"
    r"wrote|mentioned|responded|replied|claimed|claims|let\s+(?:me|us)\s+know|(?:kept|keep|keeps)\s+saying)"
)
# Past participles, so "should have been charged" is told from "should have all the pilots".
_PARTICIPLE = (
    r"(?:been|\w+ed|\w+en|paid|sent|done|made|told|gone|had|got|known|seen|left|kept|put|set|come|run|said|"
    r"held|brought|bought|built|dealt|felt|found|heard|lent|lost|meant|met|read|sold|spent|stood|thought|"
    r"understood|won|shut|cut|let|hit|taught|spread)"
)
_FUTURE = r"(?:would|will|wo|'d|'ll|should|shall|was going to|were going to|is going to|are going to|(?:can|could|may|might)\s+take)\b"
_COMMIT = r"(?:promised|promises|assured|guaranteed|agreed|committed|pledged|offered|quoted|vowed)"

# Contacting the company. Followed by "me"/"us" the verb is the company contacting the
# customer ("they called me again"), which is not a repeat contact by the customer.
_CONTACT = (
    r"(?:called|call|calling|phoned|rang|emailed|e-mailed|emailing|contacted|contact|contacting|wrote|"
    r"written|writing|messaged|messaging|tweeted|dm'?ed|reached\s+out|reaching\s+out|spoke|spoken|"
    r"speaking|talked|talking|explained|complained|complaining|disputed|disputing|requested|requesting|asked|"
    r"asking|submitted|sent|filed|reported|faxed|mailed|followed\s+up|chatted|visited|"
    # The company "attempted debit withdrawals daily"; the customer "tried several times to call".
    r"(?:tried|attempted|trying|attempting)(?!\s+(?:to\s+)?(?:debit|withdraw|charg|collect|draft|deduct|tak|process|run|pull|repossess|garnish)\w*)|"
    r"been\s+in\s+(?:contact|touch)|been\s+on\s+the\s+phone|inquired|enquired)"
)
_NOT_ME = r"(?!\s+(?:me|us)\b)"
# "I was called again", "was emailed back": the company contacting the customer.
_NOT_PASSIVE = r"(?<!was )(?<!were )(?<!been )(?<!being )(?<!get )(?<!got )"
_COUNT = (
    r"(?:again|(?:" + _NUM + r"|\d+)\s+(?:more\s+)?(?:times|occasions)|\d+\s*x\b|twice|three times|repeatedly|over and over|"
    r"time after time|time and again|on (?:multiple|several|numerous|many|different|separate) occasions|"
    r"every (?:day|week|month|morning|time|other day|few days)|each (?:week|month|day|time)|"
    r"both times|a (?:second|third|fourth) time|one more time|several more times|non-?stop|"
    # "called daily", not "my monthly payment".
    r"(?:daily|weekly|monthly|biweekly)(?=\s*(?:[,.;!?]|or\b|and\b|since\b|for\b|$)))"
)
# Not "inquiries": on a credit report they are the lenders' pulls.
_CONTACT_NOUNS = (
    r"(?:(?:(?:phone\s+|telephone\s+)?calls|e-?mails|letters|messages|msgs|voice\s*mails|voicemails|chats|chat sessions|requests|disputes|"
    r"complaints|attempts|tickets|visits|trips|faxes|conversations|"
    r"different\s+(?:agents|representatives|reps|supervisors|managers|departments|people))"
    # The company's: "multiple e-mails from that company", "a couple of e-mails he had sent".
    r"(?!\s+(?:from|he|she|they|it|that\s+(?:they|he|she))\b))"
)
# Contacts that are long, not repeated: "on the phone for 2 hours" is one call.
_LONG_DURATION = _ABOUT + r"(?:" + _NUM + r"[\s-]*)?(?:(?:business |calendar |full |whole |entire )?days?|weeks?|months?|years?|yrs?)\b"
_DATE = r"(?:xx/xx/(?:xxxx|\d{2,4})|\d{1,2}/\d{1,2}(?:/\d{2,4})?|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\w*\.?(?:\s+\d{1,2}(?:st|nd|rd|th)?)?(?:,?\s+\d{4})?|xxxx)"
_PRIOR = r"(?:previous|prior|earlier|past|first|original|initial|last|other|former|multiple|several|numerous|repeated)"

# Contacts the company made, or the customer received: "received several e-mails", "they
# keep calling". Rules marked with it are skipped when this ends just before the match.
_THEIRS = (
    r"\b(?:received|receive|receiving|got|get|getting|harass\w*|bombard\w*|flooded|"
    r"(?:sent|sends|sending)\s+(?:me|us)|they|he|she|it|company|"
    r"collectors?|bank|servicer|lender|agency|bureaus?)\s+(?:(?!and\b|or\b|but\b)\w+\s+){0,2}$"
)


class _Spec(NamedTuple):
    kind: str
    pattern: str
    # Skip a match when _THEIRS ends just before it.
    theirs: bool = False
    # Only the second and later matches in a text count.
    second: bool = False
    # A cheap pattern the text must contain for this rule to be tried at all (speed only).
    needs: str | None = None


_S = _Spec

_PATTERNS: tuple[_Spec, ...] = (
    # -- expectation: what the customer was told, promised or offered ------------------------
    _S(
        # "I was told", "was repeatedly assured", "the payout that was promised"; not "was not
        # told" (the negative sits between) and not "was told to call X" (an instruction).
        "expectation",
        r"\b(?:(?:i|we)(?:'ve|\s+have|\s+had)?\s+)?(?:was|were|been|being|am|are|is|got|get)\s+"
        r"(?:(?!not\b|never\b)\w+ly\s+|also\s+|then\s+|even\s+|only\s+|just\s+)?"
        r"(?:(?:told|informed|advised|notified)(?!\s+to\b)|promised|assured|guaranteed|quoted|offered|"
        r"misled|misinformed|led to believe|given the impression)\b" + _CLAUSE,
    ),
    _S(
        # Someone for the company commits: "they promised", "the agent agreed to", "Mohela
        # offered a settlement".
        "expectation",
        r"\b" + _WHO + r"\s+(?:(?:had|has|have|did|also|then|even|both|\w+ly)\s+){0,2}"
        + _COMMIT
        + r"\b"
        + _CLAUSE,
        needs=_COMMIT,
    ),
    _S(
        # Someone for the company says what would happen: "the agent stated it would be
        # corrected", "they keep saying it should be updated in 10 business days".
        "expectation",
        r"\b" + _WHO + r"\s+(?:(?:had|has|have|did|also|then|even|both|\w+ly)\s+){0,2}"
        + _SPEECH
        + r"(?:\s+that)?"
        + (_GAP % 8)
        + r"\s*"
        + _FUTURE
        + _CLAUSE,
        needs=r"\b(?:said|says|saying|stated|states|stating|told|tells|telling|informed|advised|assured|confirmed|indicated|explained|wrote|mentioned|responded|replied|claimed|claims|let|kept|keep|keeps)\b",
    ),
    _S(
        # Telling the customer, whoever the subject: "... and told me they would investigate",
        # "Zip's support team has assured me on multiple occasions that it would not recur".
        "expectation",
        r"\b(?:told|informed|assured|advised|promised|guaranteed|notified)\s+(?:me|us)\b" + (_GAP % 8) + r"\s*" + _FUTURE + _CLAUSE,
    ),
    _S("expectation", r"\b" + _WHO + r"\s+(?:also\s+|then\s+)?said\s+(?:yes|ok(?:ay)?|that was fine|it was fine|no problem)\b" + _CLAUSE),
    _S(
        # A document that makes a claim: "the email clearly states", "a brochure touting".
        "expectation",
        r"\b" + _DOC + r"(?:\s+from\s+\w+)?\s+(?:clearly\s+|specifically\s+|explicitly\s+|also\s+)?"
        r"(?:promis\w*|guarantee\w*|claim(?:s|ed|ing)?|tout(?:s|ed|ing)|advertis\w*)\b" + _CLAUSE,
    ),
    _S(
        # A document's statement only when it says what would or could happen: "the email
        # states there are settlement options", not "a text saying we are delinquent".
        "expectation",
        r"\b" + _DOC + r"(?:\s+from\s+\w+)?\s+(?:clearly\s+|specifically\s+|explicitly\s+|also\s+)?"
        r"(?:states?|stated|stating|says?|said|saying|indicate[sd]?|indicating|confirm(?:s|ed|ing))(?:\s+that)?"
        + (_GAP % 6)
        + r"\s*(?:" + _FUTURE + r"|can|could|may|eligible|entitled|approved|qualif\w*|options?|refund\w*|forgiv\w*|until|no\s+further|free)"
        + _CLAUSE,
    ),
    _S(
        "expectation",
        r"\b" + _DOC + (_GAP % 4) + r"\s+(?:claiming|touting|promising|advertising|guaranteeing)\b" + _CLAUSE,
    ),
    _S(
        "expectation",
        r"\blike\s+(?:the|their|your|its)\s+(?:\w+\s+)?(?:claims?|claimed|says|said|states|stated|promised|advertised|advertises)\b" + _CLAUSE,
    ),
    _S(
        "expectation",
        r"\b(?:as|like)\s+(?:(?:they|it|he|she|the\s+\w+|their\s+\w+)\s+)?(?:was\s+|were\s+|had\s+|have\s+|has\s+)?"
        r"(?:promised|advertised|agreed|stated|described|quoted|represented|"
        r"offered|discussed|explained|outlined|expected)\b" + _CLAUSE,
    ),
    _S(
        "expectation",
        r"\b(?:(?:was|were|is|are|been|being)\s+(?:\w+ly\s+)?advertised|false(?:ly)?\s+advertis\w*|"
        r"falsely\s+(?:claim|promis|stat|represent|told)\w*|(?:under|with)\s+the\s+(?:promise|impression|understanding|assurance)|"
        r"(?:the|their|a|an|my|our)\s+(?:agreement|deal|arrangement|understanding|promise|plan|commitment)\s+"
        r"(?:was|is|had been|stated|said)\s+(?:to|that)|promise[sd]?\s+(?:never|not)\s+(?:kept|fulfilled|honou?red)|"
        r"broken\s+promises?|the\s+promise\s+of)\b" + _CLAUSE,
    ),
    # -- expectation: what was supposed to / should have happened ------------------------------
    _S(
        "expectation",
        r"\b(?:(?:was|were|is|are|am|be|been|'s|'re|'m)\s+(?:not\s+|never\s+|also\s+)?|"
        r"(?:do|does|did)(?:n'?t|\s+not)\s+)suppose[d]?\s+to\b" + _CLAUSE,
    ),
    _S(
        "expectation",
        # "was due to arrive", not "were due to fraud".
        r"\b(?:(?:was|were)\s+(?:meant|expected|scheduled|set|slated)\s+to"
        r"|(?:was|were|is|are)\s+due\s+to\s+(?:be|arrive|end|start|begin|close|receive|get|have|expire|come|depart|land))\b" + _CLAUSE,
    ),
    _S(
        # "should have been", "shouldve", "should not have charged", "ought to have".
        "expectation",
        r"\b(?:should|shouldn'?t|ought\s+to)\s*(?:not\s+|never\s+)?(?:have|'?ve|of)\s+(?:not\s+|never\s+|already\s+|just\s+)?" + _PARTICIPLE + r"\b" + _CLAUSE,
    ),
    _S(
        # The customer's entitlement: "I should not be making payments", "I shouldn't have to".
        "expectation",
        r"\b(?:i|we|my\s+\w+|our\s+\w+)\s+(?:should|shouldn'?t)\s+(?:not\s+|never\s+|only\s+|still\s+)?"
        # Not "I should not be held responsible": a plea, not something the customer was led to expect.
        r"(?:be(?!\s+(?:held|able|allowed|responsible|liable|ashamed|blamed|punished|the\s+one))|have|get|receive|owe|pay|qualify|see)\b" + _CLAUSE,
    ),
    _S("expectation", r"\b(?:i|we)\s+(?:(?:was|were|had\s+been|am|are)\s+)?(?:expected|expect|expecting|anticipated)\b" + _CLAUSE),
    _S(
        # Something owed that never came: "never received my refund", "have yet to receive the payout".
        "expectation",
        r"\b(?:never|not\s+yet|yet\s+to|still\s+(?:have\s+)?not|still\s+haven'?t|have\s+not|haven'?t|has\s+not|hasn'?t|did\s+not|didn'?t)\s+"
        r"(?:been\s+)?(?:received?|get|got|gotten|seen|issued|sent|returned|credited|refunded)\s+(?:\w+\s+){0,3}?"
        r"(?:refunds?|reimbursements?|credits?|payouts?|checks?|cheques?|money|funds|deposit|title|"
        r"call\s*backs?|callbacks?|compensation|vouchers?|miles|points)\b" + _CLAUSE,
    ),
    _S("expectation", r"\b(?:by now|as promised|as agreed|as advertised|as stated)\b" + _CLAUSE),
    # -- repeat contact ------------------------------------------------------------------------
    _S(
        "repeat_contact",
        # "my second complaint", "the 3rd call"; "the third time" only with a contact ("the third
        # time I'm calling", "called for the third time"), not "the second time my flight was
        # cancelled". A letter or e-mail only when it is "my" own.
        r"(?:\b(?:(?:for\s+)?the\s+|my\s+|our\s+|a\s+|this\s+is\s+(?:my|the|our)\s+)?(?!1st)" + _ORD
        + r"\s+(?:call|phone\s+call|attempt|complaint|request|dispute|ticket|chat|visit|trip)\b"
        + r"|\b(?:my|our)\s+" + _ORD + r"\s+(?:e-?mail|letter|message)\b"
        + r"|\b" + _CONTACT + _NOT_ME + (_GAP % 4) + r"\s+(?:for\s+)?(?:the|a)\s+(?!1st)" + _ORD + r"\s+time\b"
        + r"|\b(?:the\s+)?(?!1st)" + _ORD + r"\s+time\s+(?:that\s+)?(?:i|we)(?:'ve|'m|\s+have|\s+am|\s+had|\s+was|\s+were)?\s+(?:\w+\s+)?" + _CONTACT
        + r")" + _CLAUSE,
        needs=_ORD,
    ),
    _S(
        # A contact verb, an object of a few words, then a count: "I have contacted Mohela
        # numerous times", "called them and questioned this several times", "again".
        "repeat_contact",
        r"\b" + _NOT_PASSIVE + _CONTACT + _NOT_ME + (_GAP % 6) + r"\s+" + _COUNT + r"\b" + _CLAUSE,
        theirs=True,
        needs=r"\b(?:again|times|occasions|\d+\s*x|twice|repeatedly|over|every|each|time|non-?stop|daily|weekly|monthly|biweekly)\b",
    ),
    _S(
        # "I am once again requesting", "I again reached out"; a bare "once again" is often
        # about the company ("accumulating interest once again").
        "repeat_contact",
        r"\b(?:(?:i|we)\s+(?:am\s+|are\s+|have\s+|'m\s+|'ve\s+)?(?:once\s+|yet\s+)?again\s+(?:\w+\s+)?" + _CONTACT
        + r"|(?:once|yet)\s+again,?\s+(?:i|we)\s+(?:\w+\s+)?" + _CONTACT + r")\b" + _CLAUSE,
    ),
    _S(
        # A count of contacts: "numerous phone calls", "13 calls", "multiple chat sessions",
        # "two different supervisors", "made calls"; not "received several e-mails".
        "repeat_contact",
        r"\b(?:(?:" + _NUM + r"|\d+|many\s+different|so\s+many|so\s+many\s+different|countless|endless|repeated|"
        r"constant|continuous|daily|weekly)\s+" + _CONTACT_NOUNS
        + r"|(?:multiple|several|numerous|many|countless|so\s+many)\s+(?:agents|representatives|reps|supervisors|managers|departments|people)\b"
        + r"|made\s+(?:\S+\s+){0,5}?(?:(?:phone\s+)?calls|requests|attempts|complaints|disputes|visits|trips))\b"
        + _CLAUSE,
        theirs=True,
        needs=r"\b(?:calls|e-?mails|letters|messages|msgs|voice\s*mails|voicemails|chats|sessions|requests|disputes|complaints|attempts|tickets|visits|trips|faxes|conversations|agents|representatives|reps|supervisors|managers|departments|people)\b",
    ),
    _S(
        # Referring back: "my previous complaint", "a previously disputed account", "I
        # requested prior that", "already reported this".
        "repeat_contact",
        r"\b(?:(?:(?:my|our|the|a|an|this|their|your)\s+" + _PRIOR + r"|previous|prior)"
        + r"\s+(?:cfpb\s+|written\s+|formal\s+|online\s+)?(?:complaints?|disputes?|requests?|cases?|tickets?|claims?)"
        + r"|(?:my|our)\s+" + _PRIOR + r"\s+(?:letters?|e-?mails?|calls?|conversations?|messages?)"
        r"|previously\s+(?:\w+\s+)?(?:" + _CONTACT + r")|(?:" + _CONTACT + r")\s+(?:\w+\s+){0,3}?(?:previously|already)\b"
        r"|already\s+(?:" + _CONTACT + r"))" + _NOT_ME + r"\b" + _CLAUSE,
        needs=r"\b(?:previous|prior|earlier|past|first|original|initial|last|other|former|multiple|several|numerous|repeated|previously|already)\b",
    ),
    _S(
        "repeat_contact",
        # "I called them back", "Called them back"; not "they called me back".
        r"\b" + _NOT_PASSIVE + r"(?:called|phoned|rang|wrote|emailed|messaged|contacted)"
        r"(?:\s+(?!me\b|us\b)\S+){0,3}?\s+back\b" + _CLAUSE,
        theirs=True,
    ),
    _S(
        "repeat_contact",
        r"\b(?:(?:i|we)\s+(?:have\s+|had\s+|then\s+|also\s+|again\s+)*follow(?:ed)?[\s-]*up"
        r"|follow[\s-]*up\s+(?:phone\s+)?(?:calls?|e-?mails?|messages?|letters?|requests?|complaints?))\b" + _CLAUSE,
    ),
    _S(
        # "I keep calling", "I have been trying to reach them", "continue to dispute".
        "repeat_contact",
        r"\b(?:i|we|i'?ve|i\s+have|we\s+have)\s+(?:\w+\s+)?(?:keep|kept|continue[ds]?\s+to|continue[ds]?|been|had\s+been|have\s+been)\s+"
        r"(?:calling|emailing|e-mailing|writing|messaging|contacting|disputing|complaining|asking|requesting|"
        r"reaching\s+out|following\s+up|telling|opening|filing|submitting|sending|"
        r"(?:trying|attempting)\s+to\s+(?:call|contact|reach|communicate|get\s+(?:through|in\s+touch|a\s+hold|ahold)|speak|talk|resolve|fix|get\s+this)|"
        r"call|email|write|contact|dispute|complain|ask|request|reach\s+out|follow\s+up)\b" + _CLAUSE,
    ),
    _S(
        "repeat_contact",
        r"\b(?:continue[ds]?\s+to|keep|keeps|kept|still)\s+(?:dispute|disputing|call|calling|e-?mail|e-?mailing|contact|contacting|"
        r"write|writing|complain|complaining|ask|asking|request|requesting|follow(?:ing)?\s+up|reach(?:ing)?\s+out|"
        r"open(?:ing)?\s+(?:new\s+)?(?:disputes|cases|tickets|complaints))" + _NOT_ME + r"\b" + _CLAUSE,
        theirs=True,
    ),
    _S(
        # The customer tells of contacting them twice: "I called them on ... I called Citi
        # yesterday". The span is the second telling.
        "repeat_contact",
        r"(?:\b(?:i|we)\s+(?:have\s+|had\s+|then\s+|also\s+|again\s+|even\s+|\w+ly\s+){0,2}|(?:^|(?<=[.!?])\s*))"
        r"(?:called|phoned|contacted|emailed|e-mailed|messaged|wrote\s+to|spoke\s+(?:to|with)|talked\s+to|reached\s+out|chatted|visited)\b"
        + _NOT_ME + _CLAUSE,
        second=True,
    ),
    _S(
        # The count first: "on several occasions I have talked to the store".
        "repeat_contact",
        r"\b(?:on\s+(?:several|multiple|numerous|many|different|separate)\s+occasions|(?:several|multiple|numerous|many|countless)\s+times|repeatedly),?\s+"
        r"(?:i|we)\s+(?:have\s+|had\s+)?(?:\w+\s+)?" + _CONTACT + _CLAUSE,
    ),
    _S(
        # Contacts listed by date: "I contacted Equifax in XX/XX/XXXX, XX/XX/XXXX".
        "repeat_contact",
        r"\b" + _CONTACT + _NOT_ME + (_GAP % 6) + r"\s+(?:on|in)\s+" + _DATE + r"(?:\s*(?:,|and|&)\s*(?:(?:on|in)\s+)?" + _DATE + r")+" + _CLAUSE,
    ),
    _S(
        # Contacting over a stretch of time: "I have been calling for weeks", "for the last 4
        # months I have contacted this bureau".
        "repeat_contact",
        r"\b(?:(?:have|'ve|had)\s+(?:been\s+)?" + _CONTACT + _NOT_ME + (_GAP % 5) + r"\s+(?:for|over|since)\s+" + _LONG_DURATION
        + r"|(?:for|over)\s+the\s+(?:last|past)\s+" + _LONG_DURATION + r",?\s+(?:i|we)\s+(?:have|'ve|had)\s+(?:been\s+)?" + _CONTACT + r")"
        + _CLAUSE,
    ),
    # -- effort: time ---------------------------------------------------------------------------
    _S(
        "effort",
        # Not a bare "hold": "a hold for 10 days" on a deposit is the bank's, not the customer's time.
        r"\b(?:(?:on hold|waited|waiting|wait|been waiting|stuck|sat|sitting|stranded|delayed|delaying|"
        r"been\s+(?:at|in|on)\s+(?:the|this)\s+(?:\w+\s+)?(?:airport|terminal|gate|plane|tarmac|runway|line|queue|phone)|"
        r"trying|tried|fighting|dealing|struggling|in review|under review|pending|unresolved|going on|dragged on|dragging on)"
        r"\s+(?:now\s+|already\s+)?"
        r"(?:(?:on\s+(?:the\s+)?(?:phone|hold|line|plane|tarmac)|by|with\s+this|with\s+them|for|about)\s+|"
        # "stuck in the snow for an hour", "delayed flights for more than 5 hours".
        r"(?:[^\s.!?;]+\s+){1,4}?(?:for|over)\s+)?"
        # Time spent, but not "took out a loan for 3 years": no words between.
        r"|(?:spent|wasted|taken|took|lost|lose|losing|wait(?:ing)? times? of)\s+(?:about\s+|over\s+)?)" + _DURATION + _CLAUSE,
    ),
    _S(
        # Elapsed time: "it has been six months since", "it's been 3 weeks", "30 days has now
        # passed", "over 30 days and still".
        "effort",
        # "It has been six months since I applied", "it's been 3 weeks and no reply"; not "it has
        # been over 7 years since the account was opened".
        r"\b(?:(?:it|this|that)(?:'s|s|\s+is|\s+has|\s+had|\s+have)?\s+(?:now\s+)?been\s+" + _DURATION
        + r"(?=\s*(?:,|and\b|with\b|without\b|now\b|already\b|yet\b|still\b|of\b|since\s+(?:i|we|my|our|they|the\s+(?:last|first|initial|original))\b|"
        r"that\s+(?:i|we)\b|(?:i|we)\s+(?:have|'ve|had|am|was|called|sent|applied|submitted|requested|filed)))"
        + r"|" + _DURATION + r"\s+(?:has|have|had)?\s*(?:now\s+|already\s+)?(?:passed(?!\s+due)|gone by|went by|elapsed|later and still)"
        + r"|" + _DURATION + r"\s+(?:and|later,?\s+and|now,?\s+and)\s+(?:i\s+am\s+|i'?m\s+|we\s+are\s+)?still\b"
        + r"|" + _DURATION + r"\s+(?:worth\s+)?(?:of\s+)?(?:(?:us|me)\s+)?(?:waiting|wait|sitting|holding|delays?|on hold|on the phone|on the tarmac|on the plane|layover|in line)\b)"
        + _CLAUSE,
        needs=r"\b(?:been|passed|gone|went|elapsed|still|wait\w*|sitting|holding|delays?|hold|on\s+the|layover|in\s+line)\b",
    ),
    _S(
        # No answer, or no way in, for a stretch of time: "not received a response in weeks",
        # "unable to log in for the past months", "no word for 3 weeks".
        "effort",
        r"\b(?:no|not|n'?t|never|without|unable|still)\s+(?:[^\s.!?;]+\s+){0,4}?"
        r"(?:response|reply|replies|answers?|word|news|update|call\s*back|callback|resolution|help|heard|hear|"
        r"access|log\s*in|login|sign\s*in|reach|contact|refund|money|title|decision)\w*\s+(?:[^\s.!?;]+\s+){0,4}?"
        r"(?:in|for|over|since|after)\s+" + _DURATION + _CLAUSE,
    ),
    _S(
        "effort",
        r"\b(?:for|over|in|during)\s+the\s+(?:last|past|next|following)\s+" + _DURATION
        + r"(?=[^.!?;\n]{0,80}\b(?:contact|call|e-?mail|writ|disput|wait|tr(?:y|ied|ying)|reach|complain|request|ask|fight|deal|no\s+response|no\s+answer))"
        + _CLAUSE,
    ),
    _S("effort", r"\bstill\s+(?:waiting|on hold|stuck|sitting|trying|fighting|dealing\s+with|going\s+back\s+and\s+forth|no\s+closer)\b" + _CLAUSE),
    _S(
        # "a three hour wait", "5 hr flight delay", "2 hr phone hold"; not "a 48 hour hold" on a check.
        "effort",
        r"\b(?:(?:\d+(?:\s+\d/\d)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve)[\s-]*(?:hrs?|hours?|mins?|minutes?)\s+"
        r"(?:flight\s+)?(?:late|delay(?:ed)?|wait|on hold|on the tarmac|stuck)|phone\s+hold)\b" + _CLAUSE,
    ),
    # -- effort: being passed around, not getting through ------------------------------------
    _S(
        "effort",
        r"\b(?:transferred|passed|bounced|sent|referred|redirected|forwarded|directed|shuffled|pushed|routed|"
        r"handed\s+off|transfer(?:ring)?)\s+(?:me|us)\s+(?:around|back and forth|from\b|between|over\s+to|to\s+(?:another|a\s+different|other|yet\s+another|the\s+other|someone|somebody|a\s+third)|"
        r"to\s+(?:the\s+)?(?:\w+\s+){0,2}?(?:department|team|office|company|bank|servicer|lender|number|line|store|branch)|"
        r"to\s+" + _NAME + r")" + _CLAUSE,
    ),
    _S(
        "effort",
        # Not "transferred from my account": money and loans are transferred too.
        r"\b(?:transferred|passed|bounced)\s+(?:around|" + _NUM + r"\s+times|back and forth|"
        r"from\s+(?:one\s+|department|agent|rep|person|representative|supervisor|pillar|desk|place))" + _CLAUSE,
    ),
    _S(
        # Sent on to someone else: "they told me to call XXXX", "advised me to contact the merchant".
        "effort",
        r"\b(?:told|asked|advised|instructed|directed|said\s+(?:i|we)\s+(?:had|have|needed|need)|(?:i|we)\s+(?:was|were)\s+(?:told|advised|asked|instructed|directed))\s+(?:me\s+|us\s+)?to\s+"
        r"(?:call|contact|reach\s+out\s+to|speak\s+(?:to|with)|talk\s+to|go\s+to|e-?mail|write\s+to|take\s+it\s+up\s+with|deal\s+with|file\s+(?:a\s+)?(?:claim|dispute|complaint)\s+with)\s+"
        r"(?:(?:the|their|a|another|a\s+different|my|our)\s+(?:\w+\s+)?(?:" + _STAFF + r"|merchant|seller|vendor|manufacturer|insurer|insurance|school|dealer|bureaus?|card\s+issuer|number)\b|" + _NAME + r")"
        + _CLAUSE,
    ),
    _S("effort", r"\b(?:gave|give|given)\s+(?:me|us)\s+(?:the|a|another|a\s+different|their)\s+(?:\w+\s+){0,3}?(?:number|line|address)\s+to\s+(?:call|contact|email|write)" + _CLAUSE),
    _S(
        "effort",
        r"\b(?:can'?t|cannot|can\s+not|couldn'?t|could\s+not|unable\s+to|never\s+able\s+to|not\s+able\s+to|no\s+way\s+to|impossible\s+to|hard\s+to|difficult\s+to)\s+"
        r"(?:(?:ever|even|seem\s+to|actually)\s+)?(?:get\s+(?:through|in\s+touch|a\s+hold|ahold|anyone|anybody|a\s+(?:live\s+)?(?:person|human|agent|rep))|"
        r"reach\s+(?:anyone|anybody|someone|somebody|a\s+(?:live\s+)?(?:person|human|agent|rep|representative)|them|the\s+\w+|" + _NAME + r")|"
        r"speak\s+(?:to|with)\s+(?:anyone|anybody|a\s+(?:live\s+)?(?:person|human|agent|rep))|talk\s+to\s+(?:anyone|anybody|a\s+(?:live\s+)?(?:person|human))|"
        r"contact\s+(?:anyone|anybody|them))" + _CLAUSE,
    ),
    _S(
        "effort",
        r"\b(?:(?:no\s+(?:one|body)|nobody|they|he|she|you)\s+(?:\w+\s+)?(?:answer(?:s|ed)?|pick(?:s|ed)?\s+up)\s+(?:my\s+|the\s+|our\s+)?(?:phone|calls?|e-?mails?|messages?)"
        r"|(?:will\s+not|won'?t|wont|don'?t|doesn'?t|didn'?t|do\s+not|does\s+not|did\s+not|never|refuse\s+to)\s+(?:ever\s+)?(?:answer|pick\s+up|return\s+(?:my\s+)?(?:calls?|e-?mails?|messages?))\b"
        r"|no\s+(?:live\s+)?(?:one|agent|person|human|representative|rep)\s+(?:is\s+|was\s+)?(?:ever\s+)?(?:available|answer\w*))"
        + _CLAUSE,
    ),
    _S(
        "effort",
        r"\b(?:(?:the\s+)?calls?\s+(?:was\s+|were\s+|has\s+|have\s+|got\s+|kept\s+|keeps\s+)?(?:dropped|disconnected|cut\s+off)|"
        r"(?:was|were|got|been|get|be|being|kept\s+getting)\s+disconnected|hung\s+up\s+on\s+(?:me|us)|hung\s+(?:my|the)\s+line|"
        r"phone\s+trees?|automated\s+(?:phone\s+)?(?:system|menu|line)s?\s+that|loops?\s+(?:me\s+)?back)" + _CLAUSE,
    ),
    # -- effort: work and wasted steps ----------------------------------------------------------
    _S(
        "effort",
        r"\b(?:hold times?|endless(?:ly)?|run ?around|jump(?:ing|ed)?\s+through\s+(?:\w+\s+)?hoops|back and forth|"
        r"to no avail|in vain|getting nowhere|got nowhere|gotten nowhere|going nowhere|no closer|"
        r"exhausted\s+(?:all|every)|tried\s+everything|(?:wasted|wasting|waste\s+of)\s+(?:\w+\s+){0,2}?(?:time|hours|days|weeks|effort)|"
        r"(?:time|hours|days)\s+(?:i'?ve|i\s+have|we'?ve|we\s+have)\s+(?:wasted|spent|lost)|"
        r"only\s+to\s+(?:find\s+out|discover|learn|realize|have\s+to)|start(?:ed|ing)?\s+(?:the\s+(?:whole\s+)?process\s+)?(?:all\s+)?over(?:\s+again)?\b|"
        r"from\s+scratch)" + _CLAUSE,
    ),
    _S(
        # Where "on hold" is a phone queue, not an account ("loans on hold" is not effort).
        "effort",
        r"\b(?:put|kept|left|sat|sit|sitting|stayed|stay|waited|waiting|been|placed\s+me|me|us|minutes|hours|hrs|mins|either)\s+on\s+hold\b" + _CLAUSE,
    ),
    _S(
        "effort",
        # Having to go somewhere or do a step again; not "you have to provide proof", which
        # is a requirement, not yet work done.
        r"\b(?:i|we|me|us|and)?\s*(?:had|have|having|was\s+forced|were\s+forced|forced\s+(?:me|us)|made\s+(?:me|us)|needed)\s+to\s+"
        r"(?:go|drive|travel|walk|fly|visit|come\s+back|return|re-?submit|re-?apply|re-?send|re-?file|re-?explain|fill\s+out|fax|"
        r"wait|hire|take\s+(?:time|a\s+day|off|the\s+day)|miss\s+work|initiate|reach\s+out|call|contact|"
        r"make\s+(?:\w+\s+)?(?:calls?|trips?|visits?)|jump|chase)\b" + _CLAUSE,
    ),
    _S(
        "effort",
        # Paperwork asked for, repeated or piled up; one form sent is not yet effort.
        r"\b(?:(?:asked|told|advised|forced|required|made|instructed|directed)\s+(?:me\s+|us\s+)?to\s+(?:re-?)?fill\s+out"
        r"|fill(?:ed|ing)?\s+out\s+(?:\S+\s+){0,4}?(?:again|another|more|multiple|numerous|several|new|the\s+same)\b|faxed"
        r"|re-?submit\w*|re-?sen[dt]\w*|re-?upload\w*|re-?fil(?:e|ed|ing)\b|re-?appl(?:y|ied|ying)\b"
        r"|(?:provided|submitted|sent|mailed|uploaded|gathered|included|faxed)\s+(?:them\s+)?(?:all|every|multiple|numerous|several|additional|more|extra|"
        r"tons\s+of|lots\s+of|stacks\s+of|the\s+same)\s+(?:of\s+)?(?:the\s+|my\s+)?(?:\w+\s+)?"
        r"(?:documents|documentation|paperwork|proofs?|forms|pictures|photos|copies|screenshots|receipts|evidence)"
        r"|(?:documents|documentation|paperwork|forms|proof)\s+(?:\S+\s+){0,3}?(?:again|multiple\s+times|numerous\s+times|several\s+times|twice))\b"
        + _CLAUSE,
    ),
    _S(
        "effort",
        r"\b(?:(?:" + _NUM + r"|\d+)\s+(?:delays|cancell?ations|cancell?ed\s+flights|gate\s+changes|flight\s+changes|"
        r"reschedul\w+|rebookings|flight\s+legs|layovers|trips|visits)|missed\s+(?:\w+\s+)?connections?"
        r"|(?:cancell?ed|delayed|deplaned|de-?boarded|rebooked|bumped|diverted|reschedul\w+)" + (_GAP % 5) + r"\s+(?:(?:" + _NUM + r"|\d+)\s+times|twice|for\s+the\s+" + _ORD + r"\s+time)"
        r"|deplaned|de-?boarded|stranded"
        r"|(?:slept|sleep|sleeping|spent\s+the\s+night|overnight|stuck)\s+(?:in|at|on)\s+(?:the\s+|an?\s+)?(?:\w+\s+)?(?:airport|terminal|gate|plane|tarmac|runway|hotel|car|floor))\b"
        + _CLAUSE,
    ),
)

class _Rule(NamedTuple):
    kind: str
    rx: re.Pattern[str]
    # Text just before a match that makes it something else, or None.
    veto_before: re.Pattern[str] | None = None
    # Matches before this one in a text do not count (2: a contact told twice is a repeat).
    from_nth: int = 1
    needs: re.Pattern[str] | None = None
    # Run on the text with ASCII letters lower-cased, compiled case-sensitively: Python's
    # re is 3-4 times slower with IGNORECASE. Rules that read capitals (names) run on the text
    # as written, ignoring case.
    lowered: bool = False


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _rules() -> list[_Rule]:
    theirs = re.compile(_THEIRS, re.IGNORECASE)
    out = []
    for spec in _PATTERNS:
        lowered = "(?-i:" not in spec.pattern
        out.append(
            _Rule(
                spec.kind,
                re.compile(spec.pattern, 0 if lowered else re.IGNORECASE),
                theirs if spec.theirs else None,
                2 if spec.second else 1,
                re.compile(spec.needs, 0 if lowered else re.IGNORECASE) if spec.needs else None,
                lowered,
            )
        )
    return out


_COMPILED = _rules()

# -- the fast path -------------------------------------------------------------------------
#
# Tried at every position of a text, each of the ~50 patterns costs about as much as the
# others whether or not it finds anything, and nearly all of the time went to texts where it
# finds nothing. So each pattern gets *pivots*: words of which every match holds one, at most
# K runs of characters after the match's start ("they ... promised": the pivot "promised", a
# bounded number of words after "they"). One scan per text finds the pivots of all patterns;
# a pattern is then tried (``rx.match``) only at the places, up to K runs before one of its
# pivots, where a match can begin, and only if the rest of the pattern matches at the pivot.
# Every match ``rx.finditer`` finds begins at one of those places, and trying them in order,
# each from the end of the match before, finds the same matches: the output is the plain
# loop's (``_reference_tag``), span for span (tests/understand/test_spans.py).
#
# Pivots, K and the characters a match can begin with are read off each pattern's parse tree
# (Python's own regex parser, ``re._parser``) when the tagger is first used, so an edited
# pattern gets pivots that fit it; a pattern without a safe pivot runs the plain way.

_PARSER: Any = None
_SRE: Any = None
_COMPILER: Any = None
try:
    _PARSER = importlib.import_module("re._parser")
    _SRE = importlib.import_module("re._constants")
    _COMPILER = importlib.import_module("re._compiler")
except ImportError:  # pragma: no cover - a Python whose re is laid out differently: no plans
    _PARSER = None

Items = list[tuple[Any, Any]]

# Alternatives kept for a run of literal parts; beyond it the run is cut short.
_MAX_STRINGS = 400
_FAIL, _TRANSPARENT, _SUCCESS = 0, 1, 2
_SPACES = frozenset(c for c in map(chr, range(0x3001)) if c.isspace())
# Characters other than ASCII letters that IGNORECASE matches to ASCII letters (İ ı ſ K). The
# pivot scan reads the ASCII-lowered text, where they stay as they are, so a text holding one
# goes the plain way.
_FOLDS = re.compile("[\u0130\u0131\u017f\u212a]")
# Words in most narratives, many times (about once or more per CFPB narrative): poor pivots.
_COMMON = frozenset({
    "a", "an", "the", "i", "we", "me", "us", "my", "our", "you", "your", "he", "she", "it", "they", "them",
    "their", "this", "that", "is", "was", "were", "are", "am", "be", "been", "have", "has", "had", "do",
    "did", "to", "of", "in", "on", "at", "for", "by", "with", "from", "and", "or", "but", "not", "no", "as",
    "which", "when", "would", "any", "all", "xx", "xxxx", "credit", "loan", "account", "payment",
})


def _word_char(ch: str) -> bool:
    # What re's \w matches in a str pattern.
    return ch.isalnum() or ch == "_"


# Results per part of a parse tree, by identity; each entry keeps its part alive, so that no
# other part can take its id while planning lasts.
_MEMO: dict[tuple[str, Any, int, tuple[int, ...]], tuple[Any, Any]] = {}


def _memo(name: str, fn: Any) -> Any:
    def wrapped(op: Any, av: Any, *more: Any) -> Any:
        key = (name, op, id(av), tuple(map(id, more)))
        got = _MEMO.get(key)
        if got is None:
            got = _MEMO[key] = (av, fn(op, av, *more))
        return got[1]

    return wrapped


def _items(node: Any) -> Items:
    return list(node.data)


def _zero_width(op: Any) -> bool:
    return op in (_SRE.AT, _SRE.ASSERT, _SRE.ASSERT_NOT)


def _lang_item(op: Any, av: Any) -> set[str] | None:
    """The strings one part can consume (ASCII letters lowered), or None if unknown or too many."""
    if op is _SRE.LITERAL:
        ch = chr(av)
        return {ch.translate(_LOWER)} if ch.isascii() else None
    if op is _SRE.IN:
        chars = {chr(a) for o, a in av if o is _SRE.LITERAL}
        if len(chars) != len(av) or not all(c.isascii() for c in chars):
            return None
        return {c.translate(_LOWER) for c in chars}
    if _zero_width(op):
        return {""}
    if op is _SRE.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            sub = _lang(_items(alt))
            if sub is None:
                return None
            out |= sub
        return out if len(out) <= _MAX_STRINGS else None
    if op is _SRE.SUBPATTERN:
        return _lang(_items(av[3]))
    if op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
        lo, hi, node = av
        if hi is _SRE.MAXREPEAT or hi > 8:
            return None
        one = _lang(_items(node))
        if one is None:
            return None
        out, power = set(), {""}
        for k in range(hi + 1):
            if k >= lo:
                out |= power
            power = {a + b for a in power for b in one}
            if len(power) > _MAX_STRINGS:
                return None
        return out if len(out) <= _MAX_STRINGS else None
    return None


def _lang(items: Items) -> set[str] | None:
    out = {""}
    for op, av in items:
        sub = _lang_item(op, av)
        if sub is None:
            return None
        out = {a + b for a in out for b in sub}
        if len(out) > _MAX_STRINGS:
            return None
    return out


class _Measure(NamedTuple):
    """What separates the runs counted between a match's start and its pivot."""

    sep: Any  # (str) -> bool
    # Categories holding only separators, and holding none.
    only: frozenset[Any]
    none: frozenset[Any]
    # Categories whose complement holds no separator.
    covers: frozenset[Any]
    # On the reversed text: a separator run, then a non-separator run (``(?:\s*\S+)``).
    run: str
    gap: str

    def back(self, runs: int) -> str:
        """Up to ``runs`` runs and the separators around them, read backwards from a pivot."""
        return f"(?:{self.run}){{0,{runs}}}{self.gap}"


def _measures() -> tuple[_Measure, ...]:
    if _SRE is None:  # pragma: no cover
        return ()
    c = _SRE
    spaces = _Measure(
        lambda ch: ch in _SPACES,
        frozenset({c.CATEGORY_SPACE}),
        frozenset({c.CATEGORY_NOT_SPACE, c.CATEGORY_WORD, c.CATEGORY_DIGIT}),
        frozenset({c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD, c.CATEGORY_NOT_DIGIT}),
        r"\s*\S+",
        r"\s*",
    )
    words = _Measure(
        lambda ch: not _word_char(ch),
        frozenset({c.CATEGORY_SPACE, c.CATEGORY_NOT_WORD}),
        frozenset({c.CATEGORY_WORD, c.CATEGORY_DIGIT}),
        frozenset({c.CATEGORY_NOT_WORD}),
        r"\W*\w+",
        r"\W*",
    )
    return spaces, words


_MEASURES = _measures()


def _class_can_sep(items: Items, m: _Measure) -> bool:
    if any(op is _SRE.NEGATE for op, _ in items):
        return not any(op is _SRE.CATEGORY and av in m.covers for op, av in items)
    for op, av in items:
        if op is _SRE.LITERAL:
            if m.sep(chr(av)):
                return True
        elif op is _SRE.RANGE:
            if av[1] - av[0] > 0x3000 or any(m.sep(chr(x)) for x in range(av[0], av[1] + 1)):
                return True
        elif op is _SRE.CATEGORY:
            if av not in m.none:
                return True
        else:
            return True
    return False


def _class_only_sep(items: Items, m: _Measure) -> bool:
    for op, av in items:
        if op is _SRE.LITERAL:
            if not m.sep(chr(av)):
                return False
        elif op is _SRE.RANGE:
            if av[1] - av[0] > 0x3000 or not all(m.sep(chr(x)) for x in range(av[0], av[1] + 1)):
                return False
        elif op is _SRE.CATEGORY:
            if av not in m.only:
                return False
        else:
            return False
    return True


def _can_sep_item(op: Any, av: Any, m: _Measure) -> bool:
    if _zero_width(op):
        return False
    if op is _SRE.LITERAL:
        return bool(m.sep(chr(av)))
    if op is _SRE.IN:
        return _class_can_sep(av, m)
    if op is _SRE.BRANCH:
        return any(_can_sep(_items(alt), m) for alt in av[1])
    if op is _SRE.SUBPATTERN:
        return _can_sep(_items(av[3]), m)
    if op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
        return _can_sep(_items(av[2]), m)
    return True


def _can_sep(items: Items, m: _Measure) -> bool:
    return any(_can_sep_item(op, av, m) for op, av in items)


def _runs_item(op: Any, av: Any, m: _Measure) -> int | None:
    """At most how many runs of non-separators one part can consume (None: no bound)."""
    if op is _SRE.LITERAL:
        return 0 if m.sep(chr(av)) else 1
    if op is _SRE.IN:
        return 0 if _class_only_sep(av, m) else 1
    if _zero_width(op):
        return 0
    if op is _SRE.BRANCH:
        counts = [_runs(_items(alt), m) for alt in av[1]]
        return None if None in counts else max(c for c in counts if c is not None)
    if op is _SRE.SUBPATTERN:
        return _runs(_items(av[3]), m)
    if op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
        _, hi, node = av
        sub = _items(node)
        one = _runs(sub, m)
        if one is None or one == 0:
            return one
        if not _can_sep(sub, m):
            # Repeats of something without separators stay one run.
            return 1
        return None if hi is _SRE.MAXREPEAT else hi * one
    return None


def _runs(items: Items, m: _Measure) -> int | None:
    total = 0
    joined = False
    for op, av in items:
        if _zero_width(op):
            continue
        if not _can_sep_item(op, av, m):
            # Parts without separators side by side make one run between them.
            total += 0 if joined else 1
            joined = True
            continue
        joined = False
        n = _runs_item(op, av, m)
        if n is None:
            return None
        total += n
    return total


def _guard_item(op: Any, av: Any) -> int:
    """Whether a part, ending right before a word character, leaves a word start there.

    _SUCCESS: it does; _FAIL: it may not; _TRANSPARENT: it does if it consumed anything, and
    if it consumed nothing the part before it decides.
    """
    if op is _SRE.AT:
        starts = (_SRE.AT_BOUNDARY, _SRE.AT_BEGINNING, _SRE.AT_BEGINNING_STRING, _SRE.AT_BEGINNING_LINE)
        return _SUCCESS if av in starts else _FAIL
    if op is _SRE.ASSERT:
        direction, node = av
        sub = _items(node)
        if direction < 0 and len(sub) == 1 and _guard_item(*sub[0]) == _SUCCESS:
            return _SUCCESS
        return _TRANSPARENT
    if op is _SRE.ASSERT_NOT:
        return _TRANSPARENT
    if op is _SRE.LITERAL:
        return _FAIL if _word_char(chr(av)) else _SUCCESS
    if op is _SRE.IN:
        return _SUCCESS if _class_only_sep(av, _MEASURES[1]) else _FAIL
    if op is _SRE.BRANCH:
        results = {_guard_seq(_items(alt)) for alt in av[1]}
        if _FAIL in results:
            return _FAIL
        return _SUCCESS if results == {_SUCCESS} else _TRANSPARENT
    if op is _SRE.SUBPATTERN:
        return _guard_seq(_items(av[3]))
    if op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
        one = _guard_seq(_items(av[2]))
        if one == _FAIL:
            return _FAIL
        return _SUCCESS if one == _SUCCESS and av[0] >= 1 else _TRANSPARENT
    return _FAIL


def _guard_seq(items: Items) -> int:
    for op, av in reversed(items):
        g = _guard_item(op, av)
        if g != _TRANSPARENT:
            return g
    return _TRANSPARENT


def _word_start_before(items: Items, i: int, inherited: bool) -> bool:
    """Whether the parts before ``items[i]`` leave a word start where it begins."""
    g = _guard_seq(items[:i])
    return inherited if g == _TRANSPARENT else g == _SUCCESS


class _Pivot(NamedTuple):
    words: frozenset[str]
    # Runs of non-spaces, and of word characters, at most between a match's start and the
    # pivot (None: no bound).
    runs: tuple[int | None, int | None]
    # Whether the pivot always begins a word (else it is looked for inside words too).
    word_start: bool
    # When neither count is bounded: the characters a match can hold before its pivot, as a
    # regex run read backwards from it (None: any).
    chars: str | None = None
    # The parts of the pattern from the pivot on: a pivot where they do not match is skipped.
    rest: Items | None = None


def _score(p: _Pivot) -> float:
    """Rough cost of a pivot: how often its words begin a word (or a place inside one), times its window."""
    bounded = [r for r in p.runs if r is not None]
    k = min(bounded) if bounded else 6
    cost = 0.0
    for w in p.words:
        # The scan finds words that *begin* with a pivot word: short ones begin many.
        c = {1: 2000.0, 2: 300.0, 3: 40.0, 4: 8.0}.get(len(w), 2.0)
        if w in _COMMON:
            c = max(c, 1000.0)
        cost += c if p.word_start else 3 * c
    return cost * (1.0 + k / 3.0)


def _plan(items: Items, before: tuple[int | None, int | None], chars: frozenset[str] | None,
          inherited: bool, inside_word: bool, after: Items, whole: Items) -> tuple[float, list[_Pivot]] | None:
    """The cheapest pivots of which every match of ``items`` holds one, or None.

    ``before``: runs the parts before ``items`` can consume; ``chars``: the characters they
    can consume (regex fragments; None: any); ``inherited``: whether they leave a word start;
    ``inside_word``: whether they end with a letter of the pattern; ``after``: the parts that
    follow ``items``; ``whole``: the pattern from where ``items`` begins (``items + after``, or
    an enclosing group and what follows it, shared by the group's branches).
    """
    best: tuple[float, list[_Pivot]] | None = None

    def consider(option: tuple[float, list[_Pivot]]) -> None:
        nonlocal best
        if best is None or option[0] < best[0]:
            best = option

    for i, (op, av) in enumerate(items):
        if before == (None, None) and chars is None:
            break
        here = _lang_item(op, av)
        # Not from inside a word of the pattern ("alled" of "called"): never rarer than the word.
        inside = _ends_in_word(items[i - 1]) if i > 0 else inside_word
        if here is not None and here != {""} and not inside:
            strings = {""}
            for op2, av2 in items[i:]:
                more = _lang_item(op2, av2)
                if more is None:
                    break
                grown = {a + b for a in strings for b in more}
                if len(grown) > _MAX_STRINGS:
                    break
                strings = grown
            words = frozenset(s[: len(s) - len(s.lstrip("abcdefghijklmnopqrstuvwxyz0123456789_"))] for s in strings)
            if "" not in words:
                back = None
                if before == (None, None) and chars is not None:
                    back = "(?:" + "|".join(sorted(chars)) + ")*" if chars else ""
                rest = whole if i == 0 else items[i:] + after
                pivot = _Pivot(words, before, _word_start_before(items, i, inherited), back, rest)
                consider((_score(pivot), [pivot]))
        alts = av[1] if op is _SRE.BRANCH else [av[3]] if op is _SRE.SUBPATTERN else []
        if alts:
            start = _word_start_before(items, i, inherited)
            inside = _ends_in_word(items[i - 1]) if i > 0 else inside_word
            group = whole if i == 0 else items[i:] + after
            plans = [_plan(_items(alt), before, chars, start, inside, items[i + 1 :] + after, group) for alt in alts]
            if all(p is not None for p in plans):
                consider((sum(p[0] for p in plans if p), [x for p in plans if p for x in p[1]]))
        counts = [_runs_item(op, av, m) for m in _MEASURES]
        before = tuple(None if b is None or c is None else b + c for b, c in zip(before, counts, strict=True))  # type: ignore[assignment]
        if chars is not None:
            more_chars = _chars_item(op, av, False)
            chars = None if more_chars is None else chars | more_chars
    return best


def _ends_in_word(item: tuple[Any, Any]) -> bool:
    return item[0] is _SRE.LITERAL and _word_char(chr(item[1]))


def _chars_item(op: Any, av: Any, flags_changed: bool) -> frozenset[str] | None:
    """Regex fragments for the characters one part can consume (None: any, or unknown)."""
    if _zero_width(op):
        return frozenset()
    if op is _SRE.LITERAL:
        return frozenset({f"\\U{av:08x}"})
    if op is _SRE.IN:
        cls = _class_regex(av, flags_changed)
        # Words and non-spaces reach too far back to be worth it.
        wide = any(o is _SRE.NEGATE or (o is _SRE.CATEGORY and a is not _SRE.CATEGORY_SPACE) for o, a in av)
        return None if cls is None or wide else frozenset({cls})
    if op is _SRE.BRANCH or op is _SRE.SUBPATTERN or op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
        nodes = av[1] if op is _SRE.BRANCH else [av[3]] if op is _SRE.SUBPATTERN else [av[2]]
        changed = flags_changed or (op is _SRE.SUBPATTERN and bool(av[1] or av[2]))
        out: frozenset[str] = frozenset()
        for node in nodes:
            for op2, av2 in _items(node):
                sub = _chars_item(op2, av2, changed)
                if sub is None:
                    return None
                out |= sub
        return out
    return None


_CATEGORY_CLASSES = {
    "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D",
}


def _class_regex(items: Items, flags_changed: bool) -> str | None:
    """A regex character class for an IN part, or None."""
    negate, parts = False, []
    for op, av in items:
        if op is _SRE.NEGATE:
            negate = True
        elif op is _SRE.LITERAL:
            parts.append(f"\\U{av:08x}")
        elif op is _SRE.RANGE:
            parts.append(f"\\U{av[0]:08x}-\\U{av[1]:08x}")
        elif op is _SRE.CATEGORY and str(av) in _CATEGORY_CLASSES:
            parts.append(_CATEGORY_CLASSES[str(av)])
        else:
            return None
    if negate and flags_changed:
        # Read under other case flags than the group's, a negated class could be narrower.
        return None
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _scoped(fragment: str, add: int, drop: int) -> str:
    """``fragment`` under a group's own case flags."""
    if not (add | drop) & re.IGNORECASE:
        return fragment
    return "(?" + ("i" if add & re.IGNORECASE else "") + ("-i" if drop & re.IGNORECASE else "") + ":" + fragment + ")"


def _first(items: Items) -> tuple[list[str] | None, bool, bool]:
    """Regexes one of which matches a match's first character after any leading spaces
    (None: any character); whether the match can be empty or spaces only; whether it can
    begin with spaces before that character."""
    out: list[str] = []
    spaced = False
    spaces = _MEASURES[0]
    for op, av in items:
        if _zero_width(op):
            continue
        if _can_sep_item(op, av, spaces) and _runs_item(op, av, spaces) == 0:
            spaced = True
            continue
        if op is _SRE.LITERAL:
            return [*out, f"\\U{av:08x}"], False, spaced
        if op is _SRE.IN:
            cls = _class_regex(av, False)
            return (None if cls is None else [*out, cls]), False, spaced
        if op is _SRE.BRANCH or op is _SRE.SUBPATTERN:
            alts = av[1] if op is _SRE.BRANCH else [av[3]]
            empty = False
            for alt in alts:
                sub, e, sp = _first(_items(alt))
                if sub is None:
                    return None, False, spaced
                if op is _SRE.SUBPATTERN and (av[1] or av[2]):
                    if (av[1] | av[2]) & ~re.IGNORECASE:
                        return None, False, spaced
                    sub = [_scoped(f, av[1], av[2]) for f in sub]
                out += sub
                empty = empty or e
                spaced = spaced or sp
            if not empty:
                return out, False, spaced
            continue
        if op in (_SRE.MAX_REPEAT, _SRE.MIN_REPEAT):
            sub, e, sp = _first(_items(av[2]))
            if sub is None:
                return None, False, spaced
            out += sub
            spaced = spaced or sp
            if av[0] >= 1 and not e:
                return out, False, spaced
            continue
        return None, False, spaced
    return out, True, spaced


class _Plan(NamedTuple):
    pivots: list[_Pivot]
    # Zero-width, found where a match can begin.
    starts: re.Pattern[str]
    # For each pivot, the regex that, on the reversed text, reaches back from the pivot to
    # the first place a match holding it can begin; and one that must match at the pivot
    # (None where the window is too small to be worth the check).
    backs: list[re.Pattern[str]]
    rests: list[re.Pattern[str] | None]


def _back(pivot: _Pivot, flags: int) -> re.Pattern[str]:
    bounded = [(r, m) for m, r in enumerate(pivot.runs) if r is not None]
    if bounded:
        runs, measure = min(bounded)
        return re.compile(_MEASURES[measure].back(runs))
    return re.compile(pivot.chars or "", flags)


def _rest(tree: Any, pivot: _Pivot, flags: int) -> re.Pattern[str] | None:
    bounded = [r for r in pivot.runs if r is not None]
    if bounded and min(bounded) < 2:
        return None
    rx: re.Pattern[str] = _COMPILER.compile(_PARSER.SubPattern(tree.state, pivot.rest), flags)
    return rx


def _plan_rule(rule: _Rule) -> _Plan | None:
    if _PARSER is None:  # pragma: no cover
        return None
    try:
        flags = rule.rx.flags & re.IGNORECASE
        tree = _PARSER.parse(rule.rx.pattern, flags)
        items = _items(tree)
        planned = _plan(items, (0, 0), frozenset(), False, False, [], items)
        first, empty, spaced = _first(items)
        if planned is None or first is None or empty:
            return None
        boundary = bool(items) and items[0] == (_SRE.AT, _SRE.AT_BOUNDARY)
        starts = (r"\b" if boundary else "") + "(?=" + (r"\s*" if spaced else "") + "(?:" + "|".join(dict.fromkeys(first)) + "))"
        compiled: dict[int, re.Pattern[str] | None] = {}
        rests = []
        for p in planned[1]:
            # Branches whose pivots begin them share one regex: the group and what follows.
            key = id(p.rest)
            if key not in compiled:
                compiled[key] = _rest(tree, p, flags)
            rests.append(compiled[key])
        return _Plan(planned[1], re.compile(starts, flags), [_back(p, flags) for p in planned[1]], rests)
    except Exception:  # a parse tree this does not know: the rule runs the plain way
        return None


_lang_item = _memo("lang", _lang_item)
_runs_item = _memo("runs", _runs_item)
_can_sep_item = _memo("sep", _can_sep_item)
_chars_item = _memo("chars", _chars_item)
_guard_item = _memo("guard", _guard_item)


# A rule woken by a pivot word: its index, the regex that reaches back from the pivot (on the
# reversed text) to the first place a match can begin, and the one that must match at the
# pivot (or None).
_Wake = tuple[int, re.Pattern[str], "re.Pattern[str] | None"]


def _scanner(plans: list[_Plan | None], word_start: bool) -> tuple[re.Pattern[str] | None, dict[str, tuple[_Wake, ...]]]:
    """A regex finding the pivots of every rule, and the rules each word it finds wakes."""
    pivots = [(r, pv, back, rest) for r, p in enumerate(plans) if p
              for pv, back, rest in zip(p.pivots, p.backs, p.rests, strict=True) if pv.word_start == word_start]
    words = sorted({w for _, pv, _, _ in pivots for w in pv.words})
    by_word: dict[str, list[_Wake]] = {}
    for r, pv, back, rest in pivots:
        for w in pv.words:
            by_word.setdefault(w, []).append((r, back, rest))
    # The scan finds the longest pivot word that starts at a place; a rule with a shorter word
    # that also starts there is woken too.
    wakes = {
        found: tuple(dict.fromkeys(x for k in range(1, len(found) + 1) for x in by_word.get(found[:k], ())))
        for found in words
    }
    if not words:
        return None, wakes
    return re.compile((r"\b" if word_start else "") + _words("|".join(words))), wakes


class _Engine(NamedTuple):
    plans: list[_Plan | None]
    scan: re.Pattern[str] | None
    scan_wakes: dict[str, tuple[_Wake, ...]]
    scan_in: re.Pattern[str] | None
    scan_in_wakes: dict[str, tuple[_Wake, ...]]
    unplanned: list[int]


@functools.cache
def _engine() -> _Engine:
    """Plans and scans for the patterns; made on first use (about a quarter of a second), not on import."""
    try:
        plans = [_plan_rule(r) for r in _COMPILED]
    finally:
        _MEMO.clear()
    scan, wakes = _scanner(plans, True)
    scan_in, wakes_in = _scanner(plans, False)
    return _Engine(plans, scan, wakes, scan_in, wakes_in, [r for r, p in enumerate(plans) if p is None])

# A pivot found in a text: where, and the two regexes of its _Wake.
_Hit = tuple[int, re.Pattern[str], "re.Pattern[str] | None"]


class _EmptyMatch(Exception):
    pass


def _planned_matches(rule: _Rule, plan: _Plan, read: str, rev: str, hits: list[_Hit]) -> list[tuple[int, int]]:
    """``[m.span() for m in rule.rx.finditer(read)]``, trying only places near the pivots.

    Every match begins in the window before one of its pivots, so trying those places in
    order, each from the end of the match before, finds what ``finditer`` finds.
    """
    n = len(read)
    windows = [(n - back.match(rev, n - c).end(), c) for c, back, rest in hits  # type: ignore[union-attr]
               if rest is None or rest.match(read, c) is not None]
    if not windows:
        return []
    windows.sort()
    merged = [list(windows[0])]
    for lo, hi in windows[1:]:
        if lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    out: list[tuple[int, int]] = []
    pos = 0
    match = rule.rx.match
    for lo, hi in merged:
        for s in plan.starts.finditer(read, max(lo, pos), hi + 1):
            p = s.start()
            if p > hi:
                break
            if p < pos:
                continue
            m = match(read, p)
            if m is not None:
                e = m.end()
                if e == p:
                    # finditer's rules for empty matches are not copied here.
                    raise _EmptyMatch
                out.append((p, e))
                pos = e
                if pos > hi:
                    break
    return out


def _rule_matches(rule: _Rule, plan: _Plan | None, t: str, low: str, rev: str, hits: list[_Hit] | None) -> list[tuple[int, int]]:
    read = low if rule.lowered else t
    if plan is not None:
        if not hits:
            return []
        try:
            spans = _planned_matches(rule, plan, read, rev, hits)
        except _EmptyMatch:
            spans = [m.span() for m in rule.rx.finditer(read)]
    elif rule.needs is None or rule.needs.search(read) is not None:
        return [m.span() for m in rule.rx.finditer(read)]
    else:
        return []
    if spans and rule.needs is not None and rule.needs.search(read) is None:
        return []
    return spans


def _keep(t: str, found_by_rule: list[tuple[_Rule, list[tuple[int, int]]]]) -> list[tuple[int, int, str]]:
    candidates: list[tuple[str, int, int]] = []
    for rule, spans in found_by_rule:
        for n, (s, e) in enumerate(spans, start=1):
            if n < rule.from_nth:
                continue
            if rule.veto_before is not None and rule.veto_before.search(t[max(0, s - 40) : s]):
                continue
            candidates.append((rule.kind, s, -e))
    # One span per kind for overlapping cues: the one starting first (then the longest), so
    # a span starts at its earliest cue whichever rule found it.
    found: list[tuple[int, int, str]] = []
    for kind, s, neg_e in sorted(candidates):
        e = -neg_e
        if any(k == kind and s < fe and e > fs for fs, fe, k in found):
            continue
        found.append((s, e, kind))
    return sorted(found)


def _reference_spans(t: str, rules: list[_Rule]) -> list[tuple[int, int, str]]:
    """Every rule run over the whole text: the plain loop the fast path must agree with."""
    # Same length as t, so offsets found in it point into t.
    low = t.translate(_LOWER)
    by_rule = []
    for rule in rules:
        read = low if rule.lowered else t
        if rule.needs is not None and rule.needs.search(read) is None:
            continue
        by_rule.append((rule, [m.span() for m in rule.rx.finditer(read)]))
    return _keep(t, by_rule)


def _fast_spans(t: str) -> list[tuple[int, int, str]]:
    if _FOLDS.search(t):
        return _reference_spans(t, _COMPILED)
    # Same length as t, so offsets found in it point into t.
    engine = _engine()
    low = t.translate(_LOWER)
    hits: dict[int, list[_Hit]] = {}
    if engine.scan is not None:
        wakes = engine.scan_wakes
        for m in engine.scan.finditer(low):
            c = m.start()
            for r, back, rest in wakes[m.group()]:
                hits.setdefault(r, []).append((c, back, rest))
    if engine.scan_in is not None:
        # Every place a pivot word begins, overlapping ones too (finditer would skip them).
        wakes = engine.scan_in_wakes
        inside = engine.scan_in.search(low)
        while inside is not None:
            c = inside.start()
            for r, back, rest in wakes[inside.group()]:
                hits.setdefault(r, []).append((c, back, rest))
            inside = engine.scan_in.search(low, c + 1)
    rev = low[::-1]
    by_rule = []
    for r in [*hits, *engine.unplanned]:
        rule = _COMPILED[r]
        spans = _rule_matches(rule, engine.plans[r], t, low, rev, hits.get(r))
        if spans:
            by_rule.append((rule, spans))
    return _keep(t, by_rule)


def _assemble(items: list[str], per_text: list[list[tuple[int, int, str]]]) -> TextSpans:
    rows: list[int] = []
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    texts: list[str] = []
    for i, (t, found) in enumerate(zip(items, per_text, strict=True)):
        for s, e, kind in found:
            # Some patterns begin with optional space (after a sentence end, before a name):
            # the offsets point at the words, so a highlight starts on the first one.
            s, e = trim(t, s, e)
            rows.append(i)
            kinds.append(kind)
            starts.append(s)
            ends.append(e)
            texts.append(t[s:e])
    return TextSpans(np.array(rows, dtype=np.int64), kinds, np.array(starts, dtype=np.int64),
                     np.array(ends, dtype=np.int64), texts)


def _collect(items: list[str], rules: list[_Rule]) -> TextSpans:
    return _assemble(items, [_reference_spans(t, rules) for t in items])


def _reference_tag(texts: pa.Array | list[str]) -> TextSpans:
    """PatternSpanTagger's output computed the plain way (every pattern over every text); for tests."""
    return _collect(texts_of(texts), _COMPILED)


class PatternSpanTagger:
    name = "spans-patterns-v2"

    def tag(self, texts: pa.Array | list[str]) -> TextSpans:
        items = texts_of(texts)
        return _assemble(items, [_fast_spans(t) for t in items])


class KeywordSpanTagger:
    """The baseline: a single keyword per kind, the span being the keyword itself."""

    name = "spans-keywords-v1"
    _RULES: ClassVar[list[_Rule]] = [
        _Rule("expectation", re.compile(r"\b(?:told|promised)\b", re.IGNORECASE), None),
        _Rule("repeat_contact", re.compile(r"\bagain\b", re.IGNORECASE), None),
        _Rule("effort", re.compile(r"\b(?:hold|hours)\b", re.IGNORECASE), None),
    ]

    def tag(self, texts: pa.Array | list[str]) -> TextSpans:
        return _collect(texts_of(texts), self._RULES)
