"""The vocabulary `generate_articles` builds synthetic articles from (fixture text)."""

TOPICS = {
    "treatments": "Treatments",
    "talking-therapies": "Talking therapies",
    "medication": "Medication",
    "symptoms": "Symptoms",
    "veterans": "Veterans",
    "children-and-young-people": "Children and young people",
    "living-with-ptsd": "Living with PTSD",
    "research": "Research",
}
SUBJECTS = (
    "trauma-focused CBT", "EMDR", "prolonged exposure", "cognitive processing therapy",
    "sertraline", "paroxetine", "prazosin", "ketamine", "esketamine", "MDMA-assisted therapy",
    "group therapy", "sleep problems", "nightmares", "hypervigilance", "avoidance",
    "intrusive memories", "moral injury", "complex PTSD", "self-help apps", "exercise",
    "mindfulness", "peer support", "yoga", "service dogs", "couples therapy",
)  # fmt: skip
ASPECTS = (
    "what the evidence says", "how it works", "who it helps", "side effects and risks",
    "what to expect", "questions to ask your doctor", "for families", "after a disaster",
)  # fmt: skip
HEADINGS = (
    "What it is", "How it is thought to work", "What the trials found", "Who may benefit",
    "Side effects", "How long it takes", "Compared with other treatments", "Getting help",
    "What we do not know yet", "Costs and access",
)  # fmt: skip
PHRASES = (
    "People with post-traumatic stress disorder often",
    "In randomised trials, participants who received",
    "Compared with waiting-list controls, those treated with",
    "Guidelines recommend that clinicians",
    "Symptoms such as flashbacks, nightmares and irritability",
    "Over twelve weeks, average scores on the CAPS-5 scale",
    "A smaller number of studies suggest that",
    "Veterans and first responders",
    "Sleep usually improves when",
    "Some people find that",
)
ENDINGS = (
    "improved more than those who did not",
    "reported fewer nightmares after treatment",
    "should be offered a trauma-focused therapy first",
    "can return during periods of stress",
    "fell by a clinically meaningful amount",
    "stayed in treatment when sessions were weekly",
    "benefit from involving a partner or family member",
    "had side effects that were mostly mild and short-lived",
    "did not differ from placebo on the main outcome",
    "needed further sessions to keep the gains",
)
FILLER = (
    "Talk to your doctor before starting or stopping any treatment.",
    "Everyone's experience of trauma is different, and so is recovery.",
    "It can take time to find the approach that suits you.",
    "If you are in crisis, contact emergency services or a crisis line now.",
    "Support from friends and family can make a real difference.",
)
FAMILIES = (
    "Smith", "Nguyen", "Garcia", "Okafor", "Schmidt", "Rossi", "Kowalski", "Tanaka",
    "Haddad", "Andersen", "Silva", "Cohen", "Murphy", "Ivanova", "Chen", "Patel",
)  # fmt: skip
JOURNALS = (
    "JAMA Psychiatry", "Am J Psychiatry", "Lancet Psychiatry", "J Trauma Stress",
    "Psychol Med", "Depress Anxiety", "Cochrane Database Syst Rev", "BMJ",
)  # fmt: skip
DESIGNS = ("rct", "systematic-review", "observational", "guideline", "rct", "case-series")
CERTAINTIES = ("high", "moderate", "moderate", "low", "very-low")
