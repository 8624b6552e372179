"""Themes as data: the shipped YAML files, user themes, broken files as messages, runtime switching."""

from __future__ import annotations

from console.ui.themes import load_themes

SHIPPED = {"dark", "light", "high-contrast", "colorblind"}


def test_the_shipped_themes_load(tmp_path):
    themes, problems = load_themes(tmp_path / "none")
    assert {t.name for t in themes} >= SHIPPED and problems == []
    assert {t.name: t.dark for t in themes}["light"] is False


def test_a_user_theme_loads_and_a_broken_one_is_a_message(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#ff8800'\nbackground: '#101010'\n")
    (tmp_path / "bad-yaml.yaml").write_text("name: [unclosed\n")
    (tmp_path / "bad-colour.yaml").write_text("name: x\nprimary: not-a-colour\n")
    (tmp_path / "bad-key.yaml").write_text("name: y\nprimary: '#fff'\nbackgrund: '#000'\n")
    themes, problems = load_themes(tmp_path)
    assert "mine" in {t.name for t in themes}
    said = {p.file.rsplit("/", 1)[-1]: p.message for p in problems}
    assert set(said) == {"bad-yaml.yaml", "bad-colour.yaml", "bad-key.yaml"}
    assert "not valid YAML (line" in said["bad-yaml.yaml"]
    assert "unknown keys: backgrund" in said["bad-key.yaml"]
    assert said["bad-colour.yaml"]  # Textual's reason, as a message


async def test_the_app_registers_them_and_says_which_file_was_skipped(tmp_path):
    from console.core.config import parse_config
    from console.ui.app import OpsConsoleApp

    (tmp_path / "broken.yaml").write_text(": :\n")
    config = parse_config("farm: {name: wikitide, environment: demo}\n", "<t>")
    app = OpsConsoleApp(config, sources=[], identity="ops@bast", user_themes=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert SHIPPED <= set(app.available_themes)
        await pilot.pause()
        assert any("broken.yaml" in n.message for n in app._notifications)
        for name in SHIPPED:
            app.theme = name
            await pilot.pause()


async def test_starting_with_a_theme_looks_like_switching_to_it():
    """start_with_theme (the console's start: no second stylesheet parse) and `app.theme = name` (a
    switch while running) end in the same colours and classes."""
    from console.core.config import parse_config
    from console.ui.app import OpsConsoleApp

    config = parse_config("farm: {name: wikitide, environment: demo}\n", "<t>")

    async def looks(name: str, at_start: bool) -> tuple:
        app = OpsConsoleApp(config, sources=[], identity="ops@bast", user_themes=None)
        if at_start:
            app.start_with_theme(name)
        async with app.run_test(size=(80, 24)) as pilot:
            if not at_start:
                app.theme = name
            await pilot.pause()
            header = app.query_one("#header")
            return (app.theme, sorted(c for c in app.classes if c.startswith("-")), app.get_css_variables(),
                    app.screen.styles.background, header.styles.background, header.styles.color)

    for name in ("light", "high-contrast"):
        started, switched = await looks(name, True), await looks(name, False)
        assert started == switched
        assert started[0] == name and ("-light-mode" in started[1]) == (name == "light")
