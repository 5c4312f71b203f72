"""python -m schemas inspect | verify | show | export, shard checksums and the dataset card, on
records built once from the smallest sample of every dataset."""
from __future__ import absolute_import, division, print_function

import glob
import json
import os
import shutil

import numpy as np
import pytest

from schemas import __main__ as schemas_main
from schemas import card, dataset_info, export, inspection, sheets, verify

FAST = ['--direct_running_mode=in_memory', '--direct_num_workers=1']
NAMES = ('vid', 'coco', 'davis2017', 'ytvos2018')


@pytest.fixture(scope='module')
def built(sample_data, coco_records, davis_records, ytvos_records, tmp_path_factory):
    """(sample root, records root) with OUT/{vid,coco,davis2017,ytvos2018}: the session's sample
    and records (conftest; linked, never written), but VID built here with its tracks cut into
    overlapping chunks (3 anchors, gap 2) so export meets crops stored twice."""
    from pipelines import vid
    data, out = sample_data[0], str(tmp_path_factory.mktemp('records_tools'))
    assert vid.main(['--data', os.path.join(data, 'ILSVRC2015'), '--out', out,
                     '--anchors-per-chunk', '3', '--max-frame-dist', '2'] + FAST) == 0
    for name, records in (('coco', coco_records), ('davis2017', davis_records),
                          ('ytvos2018', ytvos_records)):
        os.symlink(records, os.path.join(out, name))
    return data, out


def _copy(built, name, tmpdir):
    target = str(tmpdir.join(name))
    shutil.copytree(os.path.join(built[1], name), target)
    return target


def _shards(dataset_dir):
    return sorted(glob.glob(os.path.join(dataset_dir, '*', '*.tfrecord-*')))


# -- checksums, card, verify ----------------------------------------------------------------------

def test_dataset_info_records_each_shard_checksum_and_size(built):
    import hashlib
    for name in NAMES:
        base = os.path.join(built[1], name)
        info = dataset_info.read(base)
        for split in info['splits'].values():
            for shard in split['shards']:
                with open(os.path.join(base, shard['file']), 'rb') as f:
                    data = f.read()
                assert shard['sha256'] == hashlib.sha256(data).hexdigest()
                assert shard['file_bytes'] == len(data) == shard['bytes'] + 16 * shard['records']


def test_every_record_kind_verifies_clean(built, capsys):
    assert schemas_main.main(['verify'] + [os.path.join(built[1], n) for n in NAMES]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(': ')[1].split(',')[0] for line in lines] == ['OK'] * 4, lines


def _problems(dataset_dir):
    report = verify.verify(dataset_dir)
    return [(os.path.relpath(path, dataset_dir), index, message)
            for path, index, message in report.problems]


def test_verify_names_a_flipped_byte_by_shard_and_record(built, tmpdir):
    base = _copy(built, 'vid', tmpdir)
    info = dataset_info.read(base)
    most = max((s for e in info['splits'].values() for s in e['shards']),
               key=lambda s: s['records'])
    assert most['records'] >= 2
    shard = os.path.join(base, most['file'])
    with open(shard, 'rb') as f:
        data = bytearray(f.read())
    first_length = int.from_bytes(bytes(data[:8]), 'little')
    data[12 + first_length + 4 + 12 + 100] ^= 0x01  # inside record 1's data
    with open(shard, 'wb') as f:
        f.write(bytes(data))
    problems = _problems(base)
    rel = os.path.relpath(shard, base)
    assert (rel, 1, 'record 1 (byte %d): data CRC mismatch (corrupt bytes)'
            % (first_length + 16)) in problems
    assert any(p[0] == rel and p[2].startswith('sha256 ') for p in problems)
    assert schemas_main.main(['verify', base]) == 1


def test_verify_names_a_truncated_shard(built, tmpdir):
    base = _copy(built, 'coco', tmpdir)
    shard = _shards(base)[0]
    size = os.path.getsize(shard)
    with open(shard, 'r+b') as f:
        f.truncate(size - 10)
    rel = os.path.relpath(shard, base)
    problems = _problems(base)
    cut = [p for p in problems if p[0] == rel and 'cut short' in p[2] and p[1] is not None]
    assert len(cut) == 1 and cut[0][2].startswith('record %d ' % cut[0][1]), problems
    assert (rel, None, 'size %d bytes, dataset_info.json says %d (cut short or grown)'
            % (size - 10, size)) in problems


def test_verify_names_a_removed_and_an_added_shard(built, tmpdir):
    base = _copy(built, 'ytvos2018', tmpdir)
    removed, kept = _shards(base)[:2]
    os.remove(removed)
    added = os.path.join(os.path.dirname(kept), 'extra.tfrecord-00009-of-00009')
    shutil.copy(kept, added)
    problems = _problems(base)
    assert (os.path.relpath(removed, base), None,
            'missing: dataset_info.json lists it, the file does not exist') in problems
    assert (os.path.relpath(added, base), None, 'not listed in dataset_info.json (a shard '
            'added, or left from another run)') in problems
    assert len(problems) == 2, problems


def test_verify_without_checksums_says_so_and_still_checks(built, tmpdir):
    base = _copy(built, 'vid', tmpdir)
    info = dataset_info.read(base)
    for split in info['splits'].values():
        for shard in split['shards']:
            del shard['sha256'], shard['file_bytes']
    with open(dataset_info.info_path(base), 'w') as f:
        json.dump(info, f)
    report = verify.verify(base)
    assert report.ok and report.notes == [verify.NO_CHECKSUMS]


def test_dataset_card_has_counts_rejections_keys_and_reading(built):
    with open(os.path.join(built[1], 'coco', card.CARD_FILE)) as f:
        text = f.read()
    info = dataset_info.read(os.path.join(built[1], 'coco'))
    assert text.startswith('# coco: `coco_instances` records version 2\n')
    assert '| instances_kept | %d |' % info['counts']['instances_kept'] in text
    assert '`image/object/mask`' in text and 'tf.data.TFRecordDataset' in text
    assert 'tfrecord.read_records(path)' in text and 'OpenCV libjpeg' in text
    # deterministic apart from the command and versions lines
    again = card.render(info, argv=['x'], versions={}, code='c').splitlines()
    assert [l for l in again if not l.startswith(('- Command', '- Versions'))] == \
        [l for l in text.splitlines() if not l.startswith(('- Command', '- Versions'))]
    assert card.command_line(['/a/b/pipelines/__main__.py', 'coco', '--out', 'o p']) == \
        "python -m pipelines coco --out 'o p'"


# -- inspect ------------------------------------------------------------------------------------

def test_inspect_figures_equal_dataset_info(built):
    for name in NAMES:
        base = os.path.join(built[1], name)
        lines = inspection.inspect(base)
        assert not any('!' in line or 'MISSING' in line for line in lines), lines
        info = dataset_info.read(base)
        text = '\n'.join(lines)
        for split in info['splits'].values():
            for shard in split['shards']:
                expected = '    records {0} (info {0}), bytes {1} (info {1}) payload / ' \
                    '{2} (info {2}) file'
                assert expected.format(shard['records'], shard['bytes'],
                                       shard['file_bytes']) in text
    vid_total = inspection.inspect(os.path.join(built[1], 'vid'))[-1]
    counts = dataset_info.read(os.path.join(built[1], 'vid'))['counts']
    assert 'crops {0} (info {0}),'.format(counts['crops']) in vid_total
    assert 'tracks {0} (info {0})'.format(counts['tracks']) in vid_total
    assert 'records {0} (info {0})'.format(counts['chunks']) in vid_total
    assert counts['chunks'] == counts['records']


def test_inspect_marks_a_figure_that_disagrees(built, tmpdir):
    base = _copy(built, 'coco', tmpdir)
    info = dataset_info.read(base)
    info['counts']['instances_kept'] += 1
    with open(dataset_info.info_path(base), 'w') as f:
        json.dump(info, f)
    total = inspection.inspect(base)[-1]
    assert 'objects %d (info %d) !' % (info['counts']['instances_kept'] - 1,
                                       info['counts']['instances_kept']) in total
    assert not verify.verify(base).ok


# -- show ---------------------------------------------------------------------------------------

def test_show_writes_a_seeded_sheet_of_the_expected_size(built, tmpdir, capsys):
    for name in NAMES:
        base = os.path.join(built[1], name)
        paths = [str(tmpdir.join('%s-%d.png' % (name, k))) for k in range(3)]
        for path, seed in zip(paths, (5, 5, 6)):
            assert schemas_main.main(['show', base, '--n', '4', '--seed', str(seed),
                                      '--out', path]) == 0
        from PIL import Image
        sheet = np.array(Image.open(paths[0]))
        assert sheet.std() > 10  # not blank
        with open(paths[0], 'rb') as a, open(paths[1], 'rb') as b:
            assert a.read() == b.read(), name
        if name == 'vid':
            assert sheet.shape == (2 * (255 + 4) + 4,) * 2 + (3,)
        elif name == 'coco':
            assert sheet.shape == (2 * (256 + 4) + 4,) * 2 + (3,)
        else:  # a strip per video: --n 4 videos (the sample has 6), 6 places, at height 128
            assert sheet.shape[0] == 4 * (128 + 4) + 4
            assert sheet.shape[1] == 6 * (228 + 4) + 4
    out = capsys.readouterr().out
    assert 'python -m trainers.sasiam.show_pairs %s --out pairs.png' % os.path.join(
        built[1], 'vid') in out


def test_show_seeds_pick_other_records(built):
    info = dataset_info.read(os.path.join(built[1], 'vid'))
    picks = [sheets.pick_records(info, 3, seed) for seed in range(4)]
    assert picks[0] == sheets.pick_records(info, 3, 0)
    assert len(set(json.dumps(p, sort_keys=True) for p in picks)) > 1


# -- export: round trips ------------------------------------------------------------------------

def _files(root):
    return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, '**', '*'),
                                                              recursive=True)
                  if os.path.isfile(p))


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def _labels(path):
    from PIL import Image
    image = Image.open(path)
    assert image.mode == 'P'
    return np.array(image)


def _export(built, name, tmpdir):
    folder = str(tmpdir.join('export-' + name))
    assert schemas_main.main(['export', os.path.join(built[1], name), '--out', folder]) == 0
    return folder


def _same_frames_and_masks(source, exported, image_dirs):
    files = [f for f in _files(exported) if f.endswith(('.jpg', '.png'))]
    assert files and any(f.endswith('.png') for f in files)
    assert set(files) == set(f for f in _files(source) if f.endswith(('.jpg', '.png'))
                             and f.startswith(image_dirs))
    for rel in files:
        if rel.endswith('.jpg'):
            assert _read(os.path.join(source, rel)) == _read(os.path.join(exported, rel)), rel
        else:
            assert np.array_equal(_labels(os.path.join(source, rel)),
                                  _labels(os.path.join(exported, rel))), rel
            # both are written by datasets.palette, so even the PNG bytes agree
            assert _read(os.path.join(source, rel)) == _read(os.path.join(exported, rel)), rel


def test_davis_round_trip(built, tmpdir):
    source = os.path.join(built[0], 'DAVIS')
    folder = _export(built, 'davis2017', tmpdir)
    _same_frames_and_masks(source, folder, ('JPEGImages', 'Annotations'))
    for split in ('train', 'val'):  # the records keep the videos, not the list's order
        assert sorted(_read(os.path.join(folder, 'ImageSets', '2017', split + '.txt')).split()) \
            == sorted(_read(os.path.join(source, 'ImageSets', '2017', split + '.txt')).split())


def test_youtube_vos_round_trip(built, tmpdir):
    source = os.path.join(built[0], 'youtube-vos')
    folder = _export(built, 'ytvos2018', tmpdir)
    _same_frames_and_masks(source, folder, ('train', 'valid'))
    for split in ('train', 'valid'):
        with open(os.path.join(source, split, 'meta.json')) as a, \
                open(os.path.join(folder, split, 'meta.json')) as b:
            assert json.load(a) == json.load(b)


def test_coco_round_trip(built, tmpdir):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    source = os.path.join(built[0], 'coco')
    folder = _export(built, 'coco', tmpdir)
    kept_total = 0
    for split in ('train2017', 'val2017'):
        original = COCO(os.path.join(source, 'annotations', 'instances_%s.json' % split))
        with open(os.path.join(folder, 'annotations', 'instances_%s.json' % split)) as f:
            exported = json.load(f)
        # kept instances: not crowd, mask area > 3 % of the image (the pipeline's default filter)
        kept = [a for a in original.dataset['annotations'] if not a['iscrowd'] and
                original.annToMask(a).sum() > 0.03 * original.imgs[a['image_id']]['height'] *
                original.imgs[a['image_id']]['width']]
        kept_total += len(kept)
        assert [a['id'] for a in exported['annotations']] == sorted(a['id'] for a in kept)
        for ann in exported['annotations']:
            ref = original.anns[ann['id']]
            assert {k: ann[k] for k in ('image_id', 'category_id', 'iscrowd', 'area', 'bbox')} \
                == {k: ref[k] for k in ('image_id', 'category_id', 'iscrowd', 'area', 'bbox')}
            assert np.array_equal(mask_utils.decode(ann['segmentation']), original.annToMask(ref))
        keys = ('id', 'file_name', 'height', 'width')
        images = {a['image_id'] for a in kept}
        assert exported['images'] == [{k: original.imgs[i][k] for k in keys}
                                       for i in sorted(images)]
        assert exported['categories'] == [{'id': c, 'name': original.cats[c]['name']} for c in
                                          sorted({a['category_id'] for a in kept})]
        for image in exported['images']:
            rel = os.path.join(split, image['file_name'])
            assert _read(os.path.join(folder, rel)) == _read(os.path.join(source, rel))
    assert kept_total == dataset_info.read(os.path.join(built[1], 'coco'))['counts'][
        'instances_kept'] > 0


def _curated_crops(ilsvrc_root):
    """{relative path: JPEG bytes} of the reference curation (sa-siam.md 2.3-2.4) of the sample,
    computed straight from its XMLs and frames with the crop functions, without Beam or records."""
    from datasets import images
    from pipelines import vid
    from pipelines.vid_crop import crop_geometry, frame_mean_pad_value, search_crop
    crops = {}
    for xml in glob.glob(os.path.join(ilsvrc_root, 'Annotations', 'VID', '**', '*.xml'),
                         recursive=True):
        ann = vid.parse_annotation(_read(xml))
        jpeg = xml.replace(os.path.join('Annotations', 'VID'), os.path.join('Data', 'VID'))
        frame = images.decode_jpeg(_read(jpeg[:-len('.xml')] + '.JPEG'))
        pad = frame_mean_pad_value(frame)
        for obj in ann.objects:
            geometry = crop_geometry(*(obj.box + (frame.shape[1], frame.shape[0])))
            rel = os.path.join(export.vid_crop_dir(ann.folder, ann.folder.split('/')[-1]),
                               '%s.%02d.crop.x.jpg' % (ann.filename, obj.trackid))
            crops[rel] = images.encode_jpeg(search_crop(frame, geometry, pad), vid.JPEG_QUALITY)
    return crops


def test_vid_round_trip_gives_the_reference_curation(built, tmpdir):
    folder = _export(built, 'vid', tmpdir)
    expected = _curated_crops(os.path.join(built[0], 'ILSVRC2015'))
    assert _files(folder) == sorted(expected)
    assert set('abe') <= {p.split(os.sep)[3] for p in expected}
    for rel, data in expected.items():
        assert _read(os.path.join(folder, rel)) == data, rel


def test_export_refuses_an_existing_folder_with_one_line(built, tmpdir, capsys):
    assert schemas_main.main(['export', os.path.join(built[1], 'coco'), '--out',
                              str(tmpdir)]) == 1
    assert capsys.readouterr().err == 'error: %s exists; export writes a new folder\n' % tmpdir


# -- the trainer side ---------------------------------------------------------------------------

def test_trainers_verify_records_when_asked(built, tmpdir, capsys):
    from trainers import cli, reader
    from trainers.sasiam import train
    assert train.parse_args(['--verify-records']).verify_records
    assert not train.parse_args([]).verify_records
    built_cfg = {'input': {'records': os.path.join(built[1], 'vid')}}
    assert cli.verified(lambda cfg, device, dp: ('trainable', cfg))(built_cfg, None, None) == \
        ('trainable', built_cfg)
    bad = _copy(built, 'vid', tmpdir)
    os.remove(_shards(bad)[0])
    with pytest.raises(reader.RecordsError, match='--verify-records: .*1 problem'):
        cli.verified(lambda cfg, device, dp: (None, cfg))({'input': {'records': bad}}, None, None)
    assert '%s: missing' % _shards(os.path.join(built[1], 'vid'))[0].replace(
        os.path.join(built[1], 'vid'), bad) in capsys.readouterr().err


def test_show_pairs_draws_the_trainer_pairs_off_and_on(built):
    from trainers.sasiam import show_pairs
    base = os.path.join(built[1], 'vid')
    sheet = show_pairs.render(base, n=2, seed=4)
    assert sheet.shape == (2 * (255 + 4) + 4, 4 * (255 + 4) + 4, 3) and sheet.std() > 10
    assert np.array_equal(sheet, show_pairs.render(base, n=2, seed=4))
    z, x, z_aug, x_aug = show_pairs.sample_pairs(base, 'train', 2, 4)
    assert z.shape == (2, 255, 255, 3) and z_aug.shape == (2, 239, 239, 3)
    assert not np.allclose(z[:, 8:247, 8:247].astype(np.float32), z_aug)  # augmentation is on


def test_records_read_and_verify_without_tensorflow(built):
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ('import sys; from schemas import inspection, verify; '
            'assert verify.verify(sys.argv[1]).ok; inspection.inspect(sys.argv[1]); '
            'print("tensorflow" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code, os.path.join(built[1], 'davis2017')],
                         cwd=root, stdout=subprocess.PIPE, check=True)
    assert out.stdout.decode().strip() == 'False'


def test_show_and_export_name_a_damaged_shard_in_one_line(built, tmpdir, capsys):
    base = _copy(built, 'coco', tmpdir)
    shard = _shards(base)[0]
    with open(shard, 'r+b') as f:
        f.truncate(os.path.getsize(shard) - 3)
    assert schemas_main.main(['export', base, '--out', str(tmpdir.join('x'))]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: %s: record ' % shard) and err.count('\n') == 1, err
    assert not os.path.exists(str(tmpdir.join('x'))) and not glob.glob(str(tmpdir.join('x*')))
    assert schemas_main.main(['show', base, '--n', '50', '--out', str(tmpdir.join('s.png'))]) == 1
    assert 'cut short' in capsys.readouterr().err


def test_schemas_command_line_keeps_listing_and_refuses_unknown_commands(capsys):
    assert schemas_main.main([]) == 0
    assert capsys.readouterr().out.startswith('vid_track  v1  (tf.train.SequenceExample)')
    assert schemas_main.main(['verfy', 'x']) == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'verfy' (did you mean verify?); choose from inspect, verify, "
        "show, export (or no command: list the schemas)\n")
