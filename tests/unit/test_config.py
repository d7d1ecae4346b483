import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, apply_env_overrides, load_settings, parse_settings, redacted

BASE = {
    "chains": {"dev": {"chain_id": 31337, "rpc_urls": ["http://127.0.0.1:8545"]}},
    "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": "0x" + "ab" * 20}],
}


def test_example_configs_load():
    for name in ("devnet", "bsc-mainnet", "arbitrum-ai"):
        s = load_settings(f"config/{name}.yaml", environ={})
        assert s.mode == "paper"  # paper is always the default
        assert s.markets


def test_unknown_key_names_the_field_path():
    tree = {**BASE, "markets": [{**BASE["markets"][0], "adress": "x"}]}
    with pytest.raises(ConfigError, match=r"markets\.0\.adress: unknown key"):
        parse_settings(tree)


def test_bad_address_names_the_field():
    tree = {**BASE, "markets": [{**BASE["markets"][0], "address": "0x123"}]}
    with pytest.raises(ConfigError, match=r"markets\.0\.address"):
        parse_settings(tree)


def test_unknown_chain_reference():
    tree = {**BASE, "markets": [{**BASE["markets"][0], "chain": "nope"}]}
    with pytest.raises(ConfigError, match=r"markets\.0\.chain: unknown chain 'nope'"):
        parse_settings(tree)


def test_env_override_sets_nested_values():
    env = {"ALLORA_BOT__EXECUTION__LEAD_SECONDS": "2.5", "ALLORA_BOT__MODE": "live", "OTHER": "x"}
    s = parse_settings(apply_env_overrides(dict(BASE), env))
    assert s.execution.lead_seconds == 2.5
    assert s.mode == "live"


def test_env_override_of_unknown_key_is_rejected():
    with pytest.raises(ConfigError, match=r"execution\.lead_secs: unknown key"):
        parse_settings(apply_env_overrides(dict(BASE), {"ALLORA_BOT__EXECUTION__LEAD_SECS": "2"}))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_redacted_hides_credentials_in_urls():
    tree = {**BASE, "chains": {"dev": {"chain_id": 1, "rpc_urls": ["https://user:pw@node.example/rpc"]}}}
    shown = redacted(parse_settings(tree))
    assert "pw" not in str(shown)


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8))
trees = st.recursive(
    st.dictionaries(st.sampled_from(["mode", "chains", "markets", "risk", "allora", "x", "chain_id"]), yaml_scalars),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_random_config_trees_end_in_settings_or_config_error(tree):
    if not isinstance(tree, dict):
        tree = {"x": tree}
    try:
        parse_settings(tree)
    except ConfigError as exc:
        assert str(exc).startswith("invalid config")


def test_a_v3_market_pins_its_stake_token_and_config_show_shows_it():
    base = {"chains": {"c": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:8545"]}}}
    token = "0x" + "cd" * 20
    market = {"name": "m", "chain": "c", "dialect": "v3", "address": "0x" + "ab" * 20, "token": token}
    settings = parse_settings({**base, "markets": [market]})
    assert settings.markets[0].token == token
    assert redacted(settings)["markets"][0]["token"] == token  # an address, public: not masked like a secret
    assert settings.risk.max_gas_per_day_wei == 2 * 10**17
    with pytest.raises(ConfigError, match="markets.0.token"):
        parse_settings({**base, "markets": [{**market, "token": "0x1234"}]})
    with pytest.raises(ConfigError, match="only ERC-20 markets take a token"):
        parse_settings({**base, "markets": [{**market, "dialect": "v2"}]})
    with pytest.raises(ConfigError, match="max_gas_per_day_wei"):
        parse_settings({**base, "risk": {"max_gas_per_day_wei": 0}})
