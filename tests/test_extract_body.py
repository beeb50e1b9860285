"""Body text on hand-written pages: one-line boilerplate inside the article container is left out."""

from __future__ import annotations

import pytest

from crawler.extract_text import drop_boilerplate_lines
from crawler.extraction import extract

PARAGRAPHS = [
    "After weeks of drought the rain came back to the valley on Tuesday, farmers said, and the river rose "
    "for the first time since the spring.",
    "The reservoir rose by two metres overnight and the ban on watering gardens was lifted by the council "
    "after a short meeting in the town hall.",
    "Forecasters expect more rain until the weekend, with storms possible in the hills to the north, and "
    "the council asked residents to clear their drains.",
]
URL = "https://news.example.com/world/rain-returns"


def page(lines: list[str], *, lang: str = "en") -> str:
    paras = [*PARAGRAPHS[:2], *lines, PARAGRAPHS[2]]
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (f'<html lang="{lang}"><head><meta charset="utf-8"><title>Rain returns</title></head><body>'
            f"<main><article><h1>Rain returns</h1>{body}</article></main></body></html>")


@pytest.mark.parametrize(("line", "lang"), [
    ("Lea más: El Gobierno anuncia nuevas medidas contra la sequía en el norte", "es"),
    ("LE PUEDE INTERESAR: La ficha del exalcalde en el tribunal de Nueva York", "es"),
    ("PUEDES VER: ¿Qué es la Sunedu, cómo está conformada y para qué sirve?", "es"),
    ("MIRA: Madre se acerca a conocer los motivos de la captura de su hijo", "es"),
    ("Schon gelesen?", "de"),
    ("Top-Themen bei Example News", "de"),
    ("Quelle: Deutscher Wetterdienst (Stand: 5. Februar 2020)", "de"),
    ("Bild anzeigen", "de"),
    ("For the latest stories and breaking news updates download our apps for iOS and Android.", "en"),
    ("To view the full story, please subscribe to Example News. You can cancel at any time.", "en"),
    ("If you enjoyed reading this post, would you consider supporting our work?", "en"),
    ("Submit your letter to the editor via this form.", "en"),
    ("Pour lire la suite", "fr"),
    ("Crédits photos : Agence Example", "fr"),
    ("Zapraszamy też do subskrypcji naszego tygodnika", "pl"),
    ("Ten tekst przeczytasz w mniej niż minutę", "pl"),
    ("» Lea también: Las lluvias vuelven al valle", "es"),
])
def test_boilerplate_line_is_left_out(line: str, lang: str) -> None:
    text = extract(page([line], lang=lang), URL).text
    assert PARAGRAPHS[0] in text and PARAGRAPHS[2] in text
    assert line not in text


@pytest.mark.parametrize("line", [
    # the same words inside a sentence of the story, or without the colon that makes them a pointer
    "Mira Sorvino, who grew up in the valley, said the river had not been this high since 1998 and the farm had flooded.",
    "Quellen und Brunnen im Tal führen wieder Wasser, sagte der Bürgermeister nach dem Besuch am Dienstag.",
    "Release date of the new flood maps: moved to June after the council asked for more time, said the mayor.",
    "Siguen las lluvias en el valle y los agricultores esperan una buena cosecha este año, según la cooperativa.",
])
def test_story_lines_with_the_same_words_are_kept(line: str) -> None:
    assert drop_boilerplate_lines(f"{PARAGRAPHS[0]}\n{line}\n{PARAGRAPHS[1]}") == f"{PARAGRAPHS[0]}\n{line}\n{PARAGRAPHS[1]}"
