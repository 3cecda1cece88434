from govmesh_runtime.serve import serve
from video_bridge.bootstrap import create_app
from video_bridge.settings import get_settings

serve(create_app, get_settings())
