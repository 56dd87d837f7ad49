from hypothesis import given, strategies as st

from filters.externallinks import url_from_domain_index, urls_in_line

# A line as mysqldump writes the table up to MediaWiki 1.40 (the 2022 dumps), with
# the escapes it uses inside strings.
OLD_SCHEMA = (
    "INSERT INTO `externallinks` VALUES "
    "(1,12,'http://www.example.org/a?b=1&c=2','http://org.example.www./a?b=1&c=2',''),"
    "(2,12,'https://example.com/it\\'s','https://com.example./it\\'s','https://com.example./it\\'s'),"
    "(3,40,'//proto.example/rel','http://example.proto./rel','');"
)
NEW_SCHEMA = (
    "INSERT INTO `externallinks` VALUES "
    "(7,12,'https://org.example.www.','/a/b'),(8,13,'http://com.example.:8080','/x'),(9,14,'//net.rel.','/p');"
)


def test_urls_of_the_mediawiki_1_40_schema_keep_escapes():
    assert list(urls_in_line(OLD_SCHEMA)) == [
        "http://www.example.org/a?b=1&c=2", "https://example.com/it's", "//proto.example/rel"]


def test_urls_of_the_mediawiki_1_41_schema_are_rebuilt_from_the_reversed_host():
    assert list(urls_in_line(NEW_SCHEMA)) == [
        "https://www.example.org/a/b", "http://example.com:8080/x", "//rel.net/p"]


def test_plain_url_lists_and_tsv():
    assert list(urls_in_line("https://example.org/a\t12345")) == ["https://example.org/a"]
    assert list(urls_in_line("https://example.org/b")) == ["https://example.org/b"]


def test_dump_ddl_comments_and_other_tables_yield_nothing():
    for line in ["-- MySQL dump 10.19", "/*!40101 SET NAMES utf8mb4 */;", "  `el_id` int(10) unsigned NOT NULL,",
                 "DROP TABLE IF EXISTS `externallinks`;", "INSERT INTO `page` VALUES (1,0,'http://x.org/','a');", ""]:
        assert list(urls_in_line(line)) == [], line


def test_a_truncated_line_yields_the_complete_tuples_only():
    cut = OLD_SCHEMA[: OLD_SCHEMA.index("(3,")] + "(3,40,'//proto.exa"
    assert list(urls_in_line(cut)) == ["http://www.example.org/a?b=1&c=2", "https://example.com/it's"]


def test_domain_index_that_is_not_one():
    assert url_from_domain_index("not a domain index", "/a") is None
    assert url_from_domain_index("https://.", "/a") is None


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30),
                min_size=1, max_size=5))
def test_any_string_survives_the_dump_escaping(paths):
    def esc(s):
        return (s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
                .replace("\0", "\\0").replace('"', '\\"'))
    urls = [f"https://example.org/{p}" for p in paths]
    line = "INSERT INTO `externallinks` VALUES " + ",".join(
        f"({i},1,'{esc(u)}','{esc(u)}','')" for i, u in enumerate(urls)) + ";"
    assert list(urls_in_line(line)) == urls
