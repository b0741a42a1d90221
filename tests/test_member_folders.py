"""Members as a folder of Parquet files (a partitioned dataset), read as one table.

Real Parquet files written into a temporary folder: hive partitions and plain part
files read like the same members in one CSV; only the columns the members schema uses
are ever read (a column of names whose bytes are garbage does not stop the read); rows
are named by file and row; a folder's problems are one line each.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest

from adequacy import InputError, evaluate
from adequacy.demo import build_demo
from adequacy.inputs.schemas import read_members, read_providers
from adequacy.inputs.tables import row_names

PHI = {"name": "Jane Q Public", "dob": "1950-01-31", "address": "12 Elm St"}


def members_frame(n: int = 12) -> pd.DataFrame:
    """Members of two states, every column the schema reads plus names and dates of birth."""
    i = pd.RangeIndex(n)
    return pd.DataFrame(
        {
            "member_id": [f"M{k:03d}" for k in i],
            "lat": 43.0 + i / 100,
            "lon": -112.0 - i / 100,
            "county_fips": ["16019" if k % 3 else "30031" for k in i],
            "language": ["Spanish" if k % 4 == 0 else "English" for k in i],
            "age": (20 + i).astype("int64"),
            "plan": ["HMO" if k % 2 else "PPO" for k in i],
            "pcp_id": [f"P{k % 3}" for k in i],
            "synthetic": [bool(k % 2) for k in i],
            "in_treatment": [k % 5 == 0 for k in i],
            "state": ["ID" if k % 3 else "MT" for k in i],
            **{column: value for column, value in PHI.items()},
        }
    )


def as_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_parts(frame: pd.DataFrame, folder: Path, n: int, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(frame) // n)
    for k in range(n):
        part = frame.iloc[k * size : (k + 1) * size].reset_index(drop=True)
        part.to_parquet(folder / f"part-{k:05d}.parquet", index=False, **kwargs)
    return folder


def write_hive(frame: pd.DataFrame, folder: Path, key: str) -> Path:
    """``key=value/part-0.parquet`` folders; the key's column lives only in the path."""
    for value, part in frame.groupby(key, sort=True):
        sub = folder / f"{key}={value}"
        sub.mkdir(parents=True)
        part.drop(columns=[key]).to_parquet(sub / "part-0.parquet", index=False)
    return folder


def sorted_members(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("member_id").reset_index(drop=True)


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(InputError) as e:
        func(*args, **kwargs)
    return str(e.value)


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["hive-state", "hive-county", "parts"])
def test_a_folder_reads_like_the_same_members_in_one_csv(tmp_path, layout):
    members = members_frame()
    expected = sorted_members(read_members(as_csv(members, tmp_path / "members.csv")))
    folder = tmp_path / "members"
    if layout == "hive-state":  # state=ID/part-0.parquet, state=MT/part-0.parquet
        write_hive(members, folder, "state")
    elif layout == "hive-county":  # a column the schema uses, given by the folder names
        write_hive(members, folder, "county_fips")
    else:
        write_parts(members, folder, 3)
    got = read_members(folder)
    assert len(got) == len(members)
    pd.testing.assert_frame_equal(sorted_members(got), expected)
    assert not set(PHI) & set(got.columns)


def test_files_are_read_in_sorted_path_order_skipping_hidden_and_other_files(tmp_path):
    members = members_frame(9)
    folder = tmp_path / "members"
    folder.mkdir()
    # written out of order: the read order is the paths', not the file system's
    for k in (2, 0, 1):
        part = members.iloc[3 * k : 3 * k + 3]
        part.to_parquet(folder / f"part-{k:05d}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00009.parquet.crc").write_bytes(b"\x00garbage")
    (folder / ".hidden.parquet").write_bytes(b"not parquet at all")
    (folder / "README.txt").write_text("members of 2026")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-00007.parquet").write_bytes(b"half written")
    got = read_members(folder)
    assert list(got["member_id"]) == list(members["member_id"])
    assert read_members(folder).equals(got)
    assert row_names(got, "member_id", [0, 4, 8]) == [
        "M000 (part-00000.parquet row 1)",
        "M004 (part-00001.parquet row 2)",
        "M008 (part-00002.parquet row 3)",
    ]


def _garble_column(path: Path, column: str) -> None:
    """Overwrite every byte of ``column``'s chunks (page headers and data) with 0xFF."""
    meta = pq.read_metadata(path)
    index = meta.schema.names.index(column)
    data = bytearray(path.read_bytes())
    for g in range(meta.num_row_groups):
        chunk = meta.row_group(g).column(index)
        start = chunk.dictionary_page_offset or chunk.data_page_offset
        data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))


def test_only_the_columns_the_schema_uses_are_ever_read(tmp_path):
    members = members_frame()
    folder = write_parts(members, tmp_path / "members", 2)
    for path in sorted(folder.glob("*.parquet")):
        for column in PHI:
            _garble_column(path, column)
        # the names and dates of birth can no longer be read at all ...
        for column in PHI:
            with pytest.raises(Exception):  # noqa: B017 (whatever pyarrow raises)
                pq.read_table(path, columns=[column])
        # ... while the members' columns can
        pq.read_table(path, columns=[c for c in members.columns if c not in PHI])
    got = read_members(folder)  # so it never touched them
    expected = read_members(as_csv(members, tmp_path / "members.csv"))
    pd.testing.assert_frame_equal(got, expected)


def test_a_geoparquet_folder_gives_lon_lat_from_its_points(tmp_path):
    members = members_frame().drop(columns=["state"])
    points = gpd.GeoDataFrame(
        members.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(members["lon"], members["lat"]),
        crs=4326,
    ).to_crs(3857)  # metres: turned back into degrees
    folder = tmp_path / "members"
    folder.mkdir()
    for k in range(2):
        points.iloc[6 * k : 6 * k + 6].to_parquet(folder / f"part-{k}.parquet")
    got = read_members(folder)
    assert got["lon"].to_numpy() == pytest.approx(members["lon"].to_numpy(), abs=1e-9)
    assert got["lat"].to_numpy() == pytest.approx(members["lat"].to_numpy(), abs=1e-9)
    assert list(got["member_id"]) == list(members["member_id"])


# ---------------------------------------------------------------------------
# rows named by file and row
# ---------------------------------------------------------------------------
def test_a_duplicate_across_files_names_both_files_and_rows(tmp_path):
    members = members_frame(6)
    members.loc[4, "member_id"] = members.loc[1, "member_id"]  # M001 twice
    folder = write_parts(members, tmp_path / "members", 2)
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: duplicate member_id M001 ")
    assert "part-00000.parquet row 2" in message and "part-00001.parquet row 2" in message
    assert not any(value in message for value in PHI.values())


def test_several_problems_name_file_and_row_all_at_once(tmp_path):
    members = members_frame(6)
    members["lat"] = members["lat"].astype(object)
    members.loc[5, "lat"] = None
    members.loc[2, "member_id"] = ""
    folder = write_parts(members, tmp_path / "members", 2)
    message = error_of(read_members, folder)
    lines = message.splitlines()
    assert lines[0] == f"{folder}: 2 problems in the members folder"
    assert "member_id is empty at part-00000.parquet row 3" in message
    assert "missing coordinates at part-00001.parquet row 3 (id M005)" in message
    assert not any(value in message for value in PHI.values())


# ---------------------------------------------------------------------------
# a folder's own problems
# ---------------------------------------------------------------------------
def test_an_empty_folder_is_one_line(tmp_path):
    folder = tmp_path / "members"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\x00")
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: the members folder is empty;")


def test_a_folder_without_parquet_files_is_one_line(tmp_path):
    folder = tmp_path / "members"
    folder.mkdir()
    as_csv(members_frame(), folder / "members.csv")
    (folder / "notes.txt").write_text("x")
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: the members folder has no Parquet files")
    assert "members.csv" in message and ".parquet" in message


def test_files_whose_column_types_disagree_are_one_line(tmp_path):
    members = members_frame(6)
    folder = write_parts(members, tmp_path / "members", 2)
    late = members.iloc[3:].astype({"age": str})  # age as text in the second file
    late.to_parquet(folder / "part-00001.parquet", index=False)
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: column age is int64 in part-00000.parquet but ")
    assert "text in part-00001.parquet" in message and "same column types" in message


def test_types_that_agree_are_not_a_problem_nor_are_unused_columns(tmp_path):
    members = members_frame(6)
    folder = write_parts(members, tmp_path / "members", 2)
    late = members.iloc[3:].astype({"age": "int32", "language": "category", "dob": "category"})
    late["name"] = 7  # a column the schema never reads may be anything
    late.to_parquet(folder / "part-00001.parquet", index=False)
    expected = read_members(as_csv(members, tmp_path / "members.csv"))
    pd.testing.assert_frame_equal(read_members(folder), expected)


def test_a_column_missing_from_one_file_is_one_line(tmp_path):
    members = members_frame(6)
    folder = write_parts(members, tmp_path / "members", 2)
    members.iloc[3:].drop(columns=["county_fips"]).to_parquet(
        folder / "part-00001.parquet", index=False
    )
    message = error_of(read_members, folder)
    assert message == (
        f"{folder}: column county_fips is in part-00000.parquet but not in "
        "part-00001.parquet; write every file with the same columns"
    )


def test_unreadable_files_are_named_all_at_once(tmp_path):
    folder = write_parts(members_frame(9), tmp_path / "members", 3)
    (folder / "part-00001.parquet").write_bytes(b"member_id,lat,lon\n")
    (folder / "part-00002.parquet").write_bytes(b"")
    message = error_of(read_members, folder)
    lines = message.splitlines()
    assert lines[0] == f"{folder}: 2 problems in the members folder"
    assert lines[1].startswith("  - part-00001.parquet could not be read as Parquet")
    assert lines[2].startswith("  - part-00002.parquet could not be read as Parquet")
    one = tmp_path / "one"
    write_parts(members_frame(3), one, 1)
    (one / "part-00001.parquet").write_bytes(b"PAR1 not really")
    message = error_of(read_members, one)
    assert "\n" not in message and message.startswith(f"{one}: part-00001.parquet could not")
    assert "remove it from the folder" in message


def test_a_file_whose_data_cannot_be_read_is_named(tmp_path):
    folder = write_parts(members_frame(9), tmp_path / "members", 3)
    _garble_column(folder / "part-00001.parquet", "lat")  # its footer reads, its data not
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: part-00001.parquet could not be read (")
    assert "remove it from the folder" in message


def test_a_missing_column_lists_the_files_columns(tmp_path):
    folder = write_parts(members_frame(6).drop(columns=["lat"]), tmp_path / "members", 2)
    message = error_of(read_members, folder)
    assert "\n" not in message
    assert message.startswith(f"{folder}: missing column lat (the files have: member_id, lon,")
    assert "name, dob" in message  # names of columns never read, to see a misspelt one


def test_a_folder_of_files_without_rows(tmp_path):
    folder = write_parts(members_frame().iloc[:0], tmp_path / "members", 2)
    message = error_of(read_members, folder)
    assert "\n" not in message and "have no rows" in message and str(folder) in message


def test_providers_keep_refusing_a_folder(tmp_path):
    folder = write_parts(members_frame(), tmp_path / "providers", 2)
    assert error_of(read_providers, folder) == f"{folder}: is a folder; give the providers file"


# ---------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------
def test_evaluate_reads_a_folder_of_members_like_the_frame(tmp_path, graph_cache):
    sc = build_demo("eastern-idaho", cache_dir=graph_cache)
    folder = write_parts(sc.members, tmp_path / "members", 3)
    assert len(list(folder.glob("*.parquet"))) == 3
    common = {"providers": sc.providers, "graph": sc.graph, "regions": sc.regions}
    from_frame = evaluate(members=sc.members, **common)
    from_folder = evaluate(members=folder, **common)
    assert len(from_folder.members) == len(sc.members)
    assert (from_frame.county_summary["members"] > 0).any()
    pd.testing.assert_frame_equal(from_folder.county_summary, from_frame.county_summary)


def test_partition_row_names_survive_a_pickle(tmp_path):
    import pickle

    folder = write_parts(members_frame(6), tmp_path / "members", 2)
    got = pickle.loads(pickle.dumps(read_members(folder)))
    assert row_names(got, "member_id", [3]) == ["M003 (part-00001.parquet row 1)"]
