"""The methods, one sub-package per branch of the taxonomy. Importing this package registers
every built-in detector with :mod:`deepad.core.registry`, and the shallow baselines and the
outlier ensembles (outside the taxonomy)."""

from deepad.detectors.baselines.shallow import ECOD, KNN, LOF, IsolationForest
from deepad.detectors.ensembles.outlier_ensemble import OutlierEnsemble
from deepad.detectors.feature_extraction.boosted_scores import DeepXGBOD
from deepad.detectors.feature_extraction.deep_features import DeepFeatureDetector
from deepad.detectors.generic_normality.anomalydae import AnomalyDAE
from deepad.detectors.generic_normality.autoencoders import (
    VAE,
    AutoEncoder,
    RandNet,
    RobustAutoEncoder,
)
from deepad.detectors.generic_normality.cola import CoLA
from deepad.detectors.generic_normality.conad import CONAD
from deepad.detectors.generic_normality.deeplog import DeepLog
from deepad.detectors.generic_normality.dominant import DOMINANT
from deepad.detectors.generic_normality.frame_prediction import FuturePrediction
from deepad.detectors.generic_normality.gaan import GAAN
from deepad.detectors.generic_normality.gans import ALAD, AnoGAN, GANomaly
from deepad.detectors.generic_normality.geom import GEOM
from deepad.detectors.generic_normality.predictive import Forecaster, LSTMAutoEncoder
from deepad.detectors.generic_normality.self_supervised import GOAD, ICL, NeuTraL
from deepad.detectors.measure_normality.clustering import DAGMM
from deepad.detectors.measure_normality.distance import RDP, REPEN
from deepad.detectors.measure_normality.ocgnn import OCGNN
from deepad.detectors.measure_normality.ocnn import OCNN
from deepad.detectors.measure_normality.one_class import DeepSAD, DeepSVDD
from deepad.detectors.related.adversarial import KDBU, LID, MahalanobisAdversarial
from deepad.detectors.related.curiosity import RND
from deepad.detectors.related.ood import MSP, ODIN, DeepKNN, Energy, Mahalanobis
from deepad.detectors.score_learning.dplan import DPLAN
from deepad.detectors.score_learning.irlad import IRLAD
from deepad.detectors.score_learning.mil_ranking import MILRanking
from deepad.detectors.score_learning.one_class import ALOCC, OCAN
from deepad.detectors.score_learning.prior import DevNet
from deepad.detectors.score_learning.ranking import SDOR, PReNet
from deepad.detectors.score_learning.softmax import APE

__all__ = ["ALAD", "ALOCC", "AnoGAN", "APE", "AutoEncoder", "DAGMM", "DeepFeatureDetector",
           "DeepKNN", "DeepLog", "DeepSAD", "DeepSVDD", "DeepXGBOD", "DevNet", "DPLAN", "ECOD",
           "Energy",
           "Forecaster", "FuturePrediction", "GANomaly", "GEOM", "GOAD", "ICL", "IRLAD",
           "IsolationForest", "KDBU",
           "KNN", "LID", "LOF", "LSTMAutoEncoder", "Mahalanobis", "MahalanobisAdversarial",
           "MILRanking", "MSP", "NeuTraL", "OCAN", "OCNN", "OutlierEnsemble",
           "ODIN", "PReNet", "RandNet", "RDP", "REPEN", "RND", "RobustAutoEncoder", "SDOR", "VAE",
           "AnomalyDAE", "CoLA", "CONAD", "DOMINANT", "GAAN", "OCGNN"]
