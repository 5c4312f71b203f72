"""README and docs/ stay readable from a clone: short README, links and anchors that resolve,
make targets that exist, no citation of files that are not in the repository."""
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')
DOCS = sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))
PAGES = [README] + DOCS
README_MAX_LINES = 250

# Pages written on other branches at the same time; empty this set once they are merged.
ALLOWED_MISSING = set()
# Make targets the docs name that another branch adds; empty once merged.
PENDING_TARGETS = set()
# Pages generated from code that still names a specification file (schemas/coco_instances.py
# says "osmn.md 5.1"); empty once the code cites docs pages instead and the page is regenerated.
SPEC_NAMES_FROM_CODE = set()
SPEC_NAME = re.compile(r'\b(sa-siam|osmn|ecosystem)\.md\b')

LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^```.*?^```', re.M | re.S)
INLINE_CODE = re.compile(r'`([^`\n]+)`')
MAKE_TARGET = re.compile(r'(?:^|[\s;(])make ([a-z][a-z0-9-]*)')
RULE = re.compile(r'^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*::?(?!=)', re.M)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, '/')


def github_anchor(heading):
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(path):
    seen, result = {}, set()
    for line in FENCE.sub('', read(path)).splitlines():
        match = re.match(r'#{1,6} (.+)', line)
        if match:
            base = github_anchor(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else '%s-%d' % (base, count))
    return result


def links(path):
    """(target file relative to the repo, anchor or '') of every relative link of a page."""
    for target in LINK.findall(FENCE.sub('', read(path))):
        if re.match(r'[a-z]+:', target):
            continue                                   # http:, https:, mailto:
        file_part, _, anchor = target.partition('#')
        file_path = (os.path.join(os.path.dirname(path), file_part) if file_part else path)
        yield rel(os.path.normpath(file_path)), anchor


def make_targets_named(path):
    text = read(path)
    code = [block for block in FENCE.findall(text)] + INLINE_CODE.findall(text)
    return {name for snippet in code for name in MAKE_TARGET.findall(snippet)}


def makefile_targets():
    text = read(os.path.join(ROOT, 'Makefile'))
    targets = set()
    for heads in RULE.findall(text):
        targets.update(heads.split())
    for phony in re.findall(r'^\.PHONY:((?:.*\\\n)*.*)$', text, re.M):
        targets.update(phony.replace('\\\n', ' ').split())
    return targets


def test_readme_is_short():
    lines = read(README).count('\n')
    assert lines <= README_MAX_LINES, 'README.md has %d lines (at most %d): move detail to docs/' % (
        lines, README_MAX_LINES)


def test_github_anchor_matches_githubs_rule():
    assert github_anchor('DAVIS and YouTube-VOS records') == 'davis-and-youtube-vos-records'
    assert github_anchor('`make vid-records` (VID)') == 'make-vid-records-vid'
    assert github_anchor('Start, resume and write') == 'start-resume-and-write'


@pytest.mark.parametrize('page', PAGES, ids=rel)
def test_relative_links_resolve(page):
    broken = []
    for target, anchor in links(page):
        path = os.path.join(ROOT, target)
        if not os.path.exists(path):
            if target not in ALLOWED_MISSING:
                broken.append('%s (no such file)' % target)
        elif anchor and target.endswith('.md') and anchor not in anchors(path):
            broken.append('%s#%s (no such heading)' % (target, anchor))
    assert not broken, '%s links to: %s' % (rel(page), ', '.join(broken))


def test_allowed_missing_pages_are_still_missing():
    # Once a page lands, its entry must go, so that a later deletion is caught.
    landed = sorted(p for p in ALLOWED_MISSING if os.path.exists(os.path.join(ROOT, p)))
    assert not landed, 'remove from ALLOWED_MISSING in test/test_docs.py: %s' % landed


@pytest.mark.parametrize('page', PAGES, ids=rel)
def test_no_citation_outside_the_repository(page):
    text = read(page)
    assert 'shared/spec' not in text, '%s cites shared/spec, which a clone does not have' % rel(page)
    if rel(page) not in SPEC_NAMES_FROM_CODE:
        assert not SPEC_NAME.search(text), (
            '%s cites a specification file that is not in the repository' % rel(page))


def test_pages_generated_from_code_still_name_the_spec():
    cleaned = sorted(p for p in SPEC_NAMES_FROM_CODE
                     if not SPEC_NAME.search(read(os.path.join(ROOT, p))))
    assert not cleaned, 'remove from SPEC_NAMES_FROM_CODE in test/test_docs.py: %s' % cleaned


@pytest.mark.parametrize('page', PAGES, ids=rel)
def test_named_make_targets_exist(page):
    missing = sorted(make_targets_named(page) - makefile_targets() - PENDING_TARGETS)
    assert not missing, '%s names make targets the Makefile lacks: %s' % (rel(page), missing)


def test_makefile_target_parser_sees_the_makefile():
    # Guards the check above against a parser that finds nothing (it would pass vacuously).
    assert {'demo', 'test', 'vid-records', 'train-osmn', 'bench-segment'} <= makefile_targets()


def test_pending_targets_are_still_pending():
    landed = sorted(PENDING_TARGETS & makefile_targets())
    assert not landed, 'remove from PENDING_TARGETS in test/test_docs.py: %s' % landed
