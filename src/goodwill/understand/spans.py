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

import re
from typing import ClassVar, NamedTuple

import numpy as np
import pyarrow as pa

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


def _collect(items: list[str], rules: list[_Rule]) -> TextSpans:
    rows: list[int] = []
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    texts: list[str] = []
    for i, t in enumerate(items):
        # Same length as t, so offsets found in it point into t.
        low = t.translate(_LOWER)
        found: list[tuple[int, int, str]] = []
        candidates: list[tuple[str, int, int]] = []
        for kind, rx, veto, from_nth, needs, lowered in rules:
            read = low if lowered else t
            if needs is not None and needs.search(read) is None:
                continue
            for n, m in enumerate(rx.finditer(read), start=1):
                if n < from_nth:
                    continue
                s, e = m.start(), m.end()
                if veto is not None and veto.search(t[max(0, s - 40) : s]):
                    continue
                candidates.append((kind, s, -e))
        # One span per kind for overlapping cues: the one starting first (then the longest), so
        # a span starts at its earliest cue whichever rule found it.
        for kind, s, neg_e in sorted(candidates):
            e = -neg_e
            if any(k == kind and s < fe and e > fs for fs, fe, k in found):
                continue
            found.append((s, e, kind))
        for s, e, kind in sorted(found):
            rows.append(i)
            kinds.append(kind)
            starts.append(s)
            ends.append(e)
            texts.append(t[s:e].strip())
    return TextSpans(np.array(rows, dtype=np.int64), kinds, np.array(starts, dtype=np.int64),
                     np.array(ends, dtype=np.int64), texts)


class PatternSpanTagger:
    name = "spans-patterns-v2"

    def tag(self, texts: pa.Array | list[str]) -> TextSpans:
        return _collect(texts_of(texts), _COMPILED)


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
