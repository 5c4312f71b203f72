"""OSMN (visual + spatial modulation) trainer on coco_instances / vos_video records."""
