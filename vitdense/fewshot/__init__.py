"""Few-shot medical image segmentation: CAT-Net, episodic NIfTI datasets, supervoxel
pseudo-labels and 3D Dice evaluation."""
