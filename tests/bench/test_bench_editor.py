from bench.editor import Position, apply_edit, line_at, offset_to_position, position_to_offset


def test_positions_count_utf16_units():
    text = "a\n😀b\nc"
    off_b = text.index("b")
    assert offset_to_position(text, off_b) == Position(1, 2)
    assert position_to_offset(text, Position(1, 2)) == off_b
    assert position_to_offset(text, Position(9, 0)) == len(text)
    assert position_to_offset(text, Position(0, 99)) == 1


def test_round_trip_every_offset():
    text = "def f():\n    é = 1\n\n    return é\n"
    for off in range(len(text) + 1):
        assert position_to_offset(text, offset_to_position(text, off)) == off


def test_apply_edit_and_line_at():
    text = "x = 1\ny = 2\n"
    assert apply_edit(text, Position(1, 4), Position(1, 5), "42") == "x = 1\ny = 42\n"
    assert line_at("ab\ncd\nef", 4) == ("c", "d")
